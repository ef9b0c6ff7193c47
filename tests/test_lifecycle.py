"""Processes facesafe starts die with it: a killed coordinator leaves nothing behind.

An OOM killer or a job scheduler kills the coordinator alone (SIGKILL, no
chance to shut its pool down). Its workers and multiprocessing's resource
tracker must then exit within seconds, and a re-run must resume to the same
outputs as an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _fakes import draw_face
from PIL import Image

from facesafe._batch._lifecycle import ORPHANED, parent_is_alive

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="walks /proc (Linux)")

ARGS = ["--method", "pixelate", "--preset", "fast", "--workers", "2", "-q"]


def _stat(pid: int) -> tuple[int, str, str] | None:
    """``(ppid, state, starttime)`` of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), fields[0], fields[19]


def _descendants(root: int) -> dict[int, str]:
    """Every process below ``root`` (children, grandchildren, ...): pid -> start time."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = (stat[0], stat[2])
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, start) in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                frontier.append(pid)
    return found


def _alive(pid: int, start: str) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[2] == start and stat[1] not in "ZX"  # a zombie has exited


def _cli(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "facesafe.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _kill_coordinator_mid_run(args: list[str], ready) -> None:
    """Start ``facesafe args``, SIGKILL only its own process once ``ready()``, check its descendants die."""
    proc = _cli(args)
    try:
        deadline = time.monotonic() + 120
        while not (ready() and len(_descendants(proc.pid)) >= 3) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        family = _descendants(proc.pid)  # before the kill: afterwards they are reparented
        assert len(family) >= 3, f"expected 2 workers and a resource tracker, found {family}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while (left := [p for p, s in family.items() if _alive(p, s)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"processes outlived their killed coordinator by 10 s: {left}"
    finally:  # whatever failed, leave nothing running (orphans keep the run's process group)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough small photos in three folders that a 2-worker run lasts seconds."""
    src = tmp_path_factory.mktemp("lifecycle") / "src"
    for i in range(60):
        image = np.random.default_rng(i).integers(0, 200, (200, 260, 3), dtype=np.uint8)
        draw_face(image, 10 + i % 40, 20, 30)
        path = src / f"d{i % 3}" / f"p{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path, "JPEG", quality=90)
    return src


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_killed_anonymize_leaves_no_process_and_resumes_identically(photos: Path, tmp_path: Path):
    out = tmp_path / "out"
    _kill_coordinator_mid_run(["anonymize", str(photos), "--out", str(out), *ARGS],
                              lambda: out.exists() and sum(1 for _ in out.rglob("*.jpg")) >= 3)
    assert sum(1 for _ in out.rglob("*.jpg")) < 60, "the run finished before the kill"
    assert _cli(["anonymize", str(photos), "--out", str(out), *ARGS]).wait(300) == 0
    reference = tmp_path / "reference"
    assert _cli(["anonymize", str(photos), "--out", str(reference), *ARGS]).wait(300) == 0
    assert _files(out) == _files(reference), "outputs differ after the kill and resume (or temporaries remain)"


def test_killed_verify_leaves_no_process(photos: Path):
    started = time.monotonic()
    # Workers load their detector, then check files for several seconds; kill them while they do.
    _kill_coordinator_mid_run(["verify", str(photos), "--workers", "2"], lambda: time.monotonic() - started > 2.5)


def test_a_worker_whose_parent_died_before_it_looked_exits_at_once():
    # The race PR_SET_PDEATHSIG leaves open: the parent is gone before the
    # child asks to be signalled. Here the "parent" it was told of never was its parent.
    code = "import sys, time; from facesafe._batch._lifecycle import die_with_parent; die_with_parent(int(sys.argv[1])); time.sleep(60)"
    child = subprocess.run([sys.executable, "-c", code, str(os.getppid())], check=False, timeout=30)
    assert child.returncode == ORPHANED
    assert parent_is_alive(os.getppid())


def _readme_line(start: str) -> str:
    """The README's Python example line that starts with ``start``, as a user would copy it."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    return next(line for line in readme.splitlines() if line.startswith(start))


def _run_script(folder: Path, text: str) -> subprocess.CompletedProcess:
    (folder / "script.py").write_text(text)
    return subprocess.run([sys.executable, "script.py"], check=False, cwd=folder, capture_output=True, text=True, timeout=300)


def test_the_readme_example_works_as_a_script_without_a_main_guard(tmp_path: Path, astronaut: np.ndarray):
    # Spawned workers used to re-run such a script, each starting the batch again and dying.
    for i in range(3):
        (tmp_path / "dump").mkdir(exist_ok=True)
        Image.fromarray(np.roll(astronaut, 40 * i, axis=1)).save(tmp_path / "dump" / f"p{i}.png")
    call, check = _readme_line("report = facesafe.anonymize_dir("), _readme_line("assert report.ok")
    assert "workers=" in call
    done = _run_script(tmp_path, f"import facesafe\n\n{call}\n{check}\nprint(report.summary())\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("3 written"), done.stdout
    assert sorted(p.name for p in (tmp_path / "release").iterdir()) == ["p0.png", "p1.png", "p2.png"]


SCRIPT_WITH_A_DETECTOR = """
import facesafe

class Nobody:
    def __call__(self, image):
        return ()

{call}
"""


def test_a_script_whose_detector_workers_must_import_is_told_to_guard_its_call(tmp_path: Path):
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save((tmp_path / "dump").mkdir() or tmp_path / "dump" / "a.png")
    call = 'report = facesafe.anonymize_dir("dump", "out", detector=Nobody(), workers=2); print(report.summary())'
    refused = _run_script(tmp_path, SCRIPT_WITH_A_DETECTOR.format(call=call))
    assert refused.returncode == 1 and not (tmp_path / "out").exists()
    assert 'ValueError: workers:' in refused.stderr and 'if __name__ == "__main__":' in refused.stderr
    assert "script.py" in refused.stderr and "line 8" in refused.stderr
    guarded = _run_script(tmp_path, SCRIPT_WITH_A_DETECTOR.format(call=f'if __name__ == "__main__":\n    {call}'))
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stdout.startswith("1 written")
