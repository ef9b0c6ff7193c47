"""What the facesafe commands leave behind and whom they call: their outputs and the manifest, nothing more.

``anonymize --method synthetic --workers 2`` (``blur`` without the synthetic
extra), ``verify --workers 2``, ``strip`` and ``dataset --workers 2`` (a
Parquet table; where pyarrow is installed) run as a user would run them, in a fresh empty ``HOME`` (no
``XDG_*`` folders, ``ORT_DISABLE_TELEMETRY=0``: the user's environment turns
onnxruntime's telemetry *on*), from an empty working folder, with ``TMPDIR``
a folder of their own. Under ``strace`` every IPv4/IPv6 ``connect`` and every
file created is seen, in every process and thread, however short-lived.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import FACEMESH_INSTALLED
from PIL import Image

# synthetic (MediaPipe: the heaviest footprint) where the extra is installed; blur without it (Python 3.13)
METHOD = "synthetic" if FACEMESH_INSTALLED else "blur"
COMMANDS = {
    "anonymize": ["anonymize", "{src}", "--out", "anon", "--method", METHOD, "--workers", "2", "-q"],
    "verify": ["verify", "anon", "--workers", "2", "--manifest", "anon.facesafe.sqlite"],
    "strip": ["strip", "{src}", "--out", "strip", "-q"],
}
# What the commands may leave in their working folder.
OUTPUTS = {"anon", "anon/astronaut.jpg", "anon/pair.png", "anon.facesafe.sqlite", "strip", "strip/astronaut.jpg", "strip/pair.png"}
if importlib.util.find_spec("pyarrow") is not None:  # the datasets extra
    COMMANDS["dataset"] = ["dataset", "{table}", "--out", "table", "--preset", "fast", "--workers", "2", "-q"]
    OUTPUTS |= {"table", "table/t.parquet", "table.facesafe.sqlite"}
# strace: the calls that open a connection or create (or open for writing) a file, a folder or a name.
TRACED = "connect,open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat"


def _sources(folder: Path, astronaut: np.ndarray) -> Path:
    folder.mkdir()
    Image.fromarray(astronaut).save(folder / "astronaut.jpg", quality=92)
    Image.fromarray(np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)).save(folder / "pair.png")
    return folder


def _table(path: Path, src: Path) -> Path:
    """A Parquet table of the two source images (a Hugging Face ``{bytes, path}`` column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cells = [{"bytes": (src / name).read_bytes(), "path": name} for name in ("astronaut.jpg", "pair.png")]
    pq.write_table(pa.table({"image": pa.array(cells, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))}), path)
    return path


def _strace() -> str:
    path = shutil.which("strace")
    if path is None:
        pytest.skip("strace is not installed (apt-get install strace): connects cannot be watched")
    probe = subprocess.run([path, "-f", "-qq", "-o", os.devnull, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here (ptrace refused?): {probe.stderr.strip()}")
    return path


def _run_all(root: Path, astronaut: np.ndarray, *, strace: str | None = None) -> dict[str, Path]:
    """Run the commands in ``root``; returns the folders (and traces) to judge."""
    src = _sources(root / "src", astronaut)
    table = _table(root / "t.parquet", src) if "dataset" in COMMANDS else None
    inputs = _contents(src)
    home, cwd, tmp = root / "home", root / "cwd", root / "tmp"
    for folder in (home, cwd, tmp):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_") and k not in ("MPLCONFIGDIR", "TMP", "TEMP")}
    env.update(HOME=str(home), TMPDIR=str(tmp), ORT_DISABLE_TELEMETRY="0")
    seen = {"src": src, "home": home, "cwd": cwd, "tmp": tmp}
    for name, args in COMMANDS.items():
        command = [sys.executable, "-m", "facesafe.cli", *(a.format(src=src, table=table) for a in args)]
        if strace is not None:
            seen[name] = root / f"{name}.trace"
            command = [strace, "-f", "-qq", "-y", "-o", str(seen[name]), "-e", f"trace={TRACED}", *command]
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{name}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert _contents(src) == inputs  # the inputs are untouched
    return seen


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def test_commands_write_nothing_outside_their_outputs_and_manifest(tmp_path, astronaut):
    seen = _run_all(tmp_path, astronaut)
    assert _tree(seen["home"]) == set()  # no cache, config or telemetry of any dependency
    assert _tree(seen["cwd"]) == OUTPUTS  # no stray file beside the outputs
    assert _tree(seen["tmp"]) == set()  # temporary files are removed, too


# strace prints the folder a descriptor names in <...> (-y): AT_FDCWD</cwd>, 3</dir>.
_OPEN = re.compile(r'\b(?:open|openat|creat)\((?:[^<,]*<([^>]*)>, )?"([^"]*)"(?:, ([A-Z_|]+))?')
_NAMED = re.compile(r'\b(?:mkdir|mkdirat|rename|renameat2?|link|linkat|symlink|symlinkat)\(([^)]*)')
_PATH = re.compile(r'(?:[^<,\s]*<([^>]*)>, )?"([^"]*)"')


def _created(trace: Path, cwd: Path) -> set[str]:
    """Every path a traced process created or opened for writing (unless the call visibly failed).

    A relative path without a folder is relative to ``cwd``, where the commands run.
    """
    paths = set()
    for line in trace.read_text(errors="replace").splitlines():
        if re.search(r"\) = -1 E", line):
            continue
        if (match := _OPEN.search(line)) is not None:
            folder, name, flags = match.groups()
            if line.split("(", 1)[0].endswith("creat") or re.search(r"O_(CREAT|WRONLY|RDWR|TRUNC|APPEND)", flags or ""):
                paths.add(os.path.join(folder or cwd, name))
        elif (match := _NAMED.search(line)) is not None:
            named = _PATH.findall(match.group(1))
            if named:  # the new name: the last path of the call
                folder, name = named[-1]
                paths.add(os.path.join(folder or cwd, name))
    return paths


def test_commands_connect_nowhere_and_create_nothing_elsewhere_even_briefly(tmp_path, astronaut):
    seen = _run_all(tmp_path, astronaut, strace=_strace())
    cwd, tmp = seen["cwd"], seen["tmp"]
    folders = [str(cwd / "anon"), str(cwd / "strip"), str(cwd / "table"), str(tmp)]
    # The outputs, the manifests (with their -wal, -shm, -journal while written), the temp dir, /dev/null, and
    # the POSIX semaphores of the worker pools (memory, unlinked at once).
    allowed = (*(f + "/" for f in folders), str(cwd / "anon.facesafe.sqlite"), str(cwd / "table.facesafe.sqlite"), "/dev/shm/sem.")
    for name in COMMANDS:
        inet = _inet_connects(seen[name])
        assert inet == [], f"{name} opened network connections:\n" + "\n".join(inet[:10])
        created = _created(seen[name], cwd)
        elsewhere = sorted(p for p in created if not (p.startswith(allowed) or p in folders or p == os.devnull))
        assert elsewhere == [], f"{name} created files outside its outputs, manifest and temp dir: {elsewhere[:20]}"
    # The worker processes write the outputs: their calls are in the trace.
    assert {p for p in _created(seen["anonymize"], cwd) if p.startswith(str(cwd / "anon") + "/")}
    if "dataset" in COMMANDS:
        assert {p for p in _created(seen["dataset"], cwd) if p.startswith(str(cwd / "table") + "/")}
    assert _tree(seen["home"]) == set()


def test_the_trace_sees_a_connect_and_a_file(tmp_path):
    """The judge above can fail: a loopback connect and a file created in HOME are both caught."""
    trace = tmp_path / "probe.trace"
    code = "import socket, pathlib; socket.socket().connect_ex(('127.0.0.1', 9)); (pathlib.Path.home() / 'x').write_text('x')"
    subprocess.run([_strace(), "-f", "-qq", "-y", "-o", str(trace), "-e", f"trace={TRACED}", sys.executable, "-c", code],
                   env=dict(os.environ, HOME=str(tmp_path)), check=True, timeout=60)
    assert len(_inet_connects(trace)) == 1
    assert str(tmp_path / "x") in _created(trace, tmp_path)


def _inet_connects(trace: Path) -> list[str]:
    return [line for line in trace.read_text(errors="replace").splitlines() if "connect(" in line and re.search(r"AF_INET6?\b", line)]
