"""facesafe._ort: onnxruntime runs with its telemetry off, whatever the user's environment says.

Each test runs Python in a subprocess with a fresh empty ``HOME`` (no
``XDG_*`` folders) and ``ORT_DISABLE_TELEMETRY=0``, the user's setting that
turns telemetry on, and judges what appears under that ``HOME``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TELEMETRY = Path(".cache/Microsoft")


def _python(code: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` with ``home`` as HOME and working folder, telemetry asked for."""
    home.mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("XDG_") and k != "MPLCONFIGDIR"}
    clean.update(HOME=str(home), ORT_DISABLE_TELEMETRY="0", **env)
    done = subprocess.run([sys.executable, "-c", code], cwd=home, env=clean, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def _written(home: Path) -> list[str]:
    return sorted(p.relative_to(home).as_posix() for p in home.rglob("*"))


def test_a_detector_writes_nothing_under_home(tmp_path):
    code = "import skimage.data, facesafe; print(len(facesafe.FaceDetector()(skimage.data.astronaut())))"
    done = _python(code, tmp_path / "home")
    assert int(done.stdout) >= 1  # the network ran: it found the astronaut
    assert _written(tmp_path / "home") == []


def test_onnxruntime_alone_does_write_under_home(tmp_path):
    """The control: the judge above sees onnxruntime's telemetry when it is on."""
    import importlib.metadata

    _python("import onnxruntime", tmp_path / "home")
    if not (tmp_path / "home" / TELEMETRY).exists():
        version = importlib.metadata.version("onnxruntime")
        pytest.skip(f"onnxruntime {version} writes no telemetry here: the test above cannot fail")
    assert (tmp_path / "home" / TELEMETRY / "DeveloperTools/.onnxruntime/deviceid").is_file()


def test_onnxruntime_imported_first_is_switched_off_and_warned_about_once(tmp_path):
    code = """
import os, warnings
import onnxruntime
calls = []
real = onnxruntime.disable_telemetry_events
onnxruntime.disable_telemetry_events = lambda: (calls.append(1), real())
from facesafe._ort import onnxruntime as get
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    assert get() is onnxruntime and get() is onnxruntime
print(len(caught), len(calls), os.environ["ORT_DISABLE_TELEMETRY"])
print(caught[0].message)
"""
    done = _python(code, tmp_path / "home")
    counts, message = done.stdout.splitlines()
    assert counts == "1 2 1"  # one warning; events switched off on each call; set for the processes it starts
    assert "set ORT_DISABLE_TELEMETRY=1" in message and "before onnxruntime is imported" in message


def test_facesafe_first_then_onnxruntime_is_quiet(tmp_path):
    code = """
import warnings
warnings.simplefilter("error")
from facesafe._ort import onnxruntime
first = onnxruntime()
import onnxruntime as ort
assert onnxruntime() is ort is first
"""
    _python(code, tmp_path / "home")
    assert _written(tmp_path / "home") == []


def test_dask_workers_run_the_detector_with_telemetry_off(tmp_path):
    distributed = pytest.importorskip("distributed")
    import skimage.data
    from PIL import Image

    from facesafe import anonymize_dir

    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "src").mkdir()
    Image.fromarray(skimage.data.astronaut()).save(tmp_path / "src" / "a.png")
    # The worker processes get the user's environment: an empty HOME, telemetry asked for.
    env = {"HOME": str(home), "ORT_DISABLE_TELEMETRY": "0"}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50, env=env) as cluster, distributed.Client(cluster) as client:
        assert client.run(lambda: (os.environ["HOME"], os.environ["ORT_DISABLE_TELEMETRY"])) != {}
        report = anonymize_dir(tmp_path / "src", tmp_path / "out", client=client)
        homes = client.run(lambda: os.environ["HOME"])
    assert report.written == 1 and report.faces >= 1  # CenterFace ran on the worker
    assert set(homes.values()) == {str(home)}
    assert _written(home) == []


def test_only_the_helper_imports_onnxruntime():
    """Every other module gets onnxruntime from facesafe._ort, so the variable is always set first."""
    import re

    import facesafe

    package = Path(facesafe.__file__).parent
    direct = re.compile(r"^\s*(import onnxruntime|from onnxruntime\b)", re.M)
    offenders = [p.relative_to(package).as_posix() for p in package.rglob("*.py") if p.name != "_ort.py" and direct.search(p.read_text())]
    assert offenders == []
