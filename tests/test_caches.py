"""facesafe._caches: in facesafe's own processes, dependencies cache in a temporary folder, not in HOME."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from facesafe._caches import private_caches


def test_private_caches_is_a_temporary_folder_for_the_duration(monkeypatch):
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    with private_caches():
        folder = Path(os.environ["MPLCONFIGDIR"])
        assert folder.is_dir() and folder.parent == Path(tempfile.gettempdir())
    assert "MPLCONFIGDIR" not in os.environ
    assert not folder.exists()


def test_a_folder_the_user_chose_is_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path))
    with private_caches():
        assert os.environ["MPLCONFIGDIR"] == str(tmp_path)
    assert os.environ["MPLCONFIGDIR"] == str(tmp_path)


def test_a_worker_process_keeps_matplotlib_out_of_home_and_cleans_up(tmp_path):
    """mediapipe imports matplotlib, which caches the system's font list: here in the temp dir, then gone."""
    pytest.importorskip("matplotlib")  # comes with the synthetic extra (mediapipe), not the core
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    code = """
import os
from facesafe._caches import private_caches_until_exit
private_caches_until_exit()
import matplotlib.font_manager
print(os.environ["MPLCONFIGDIR"], *os.listdir(os.environ["MPLCONFIGDIR"]))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_") and k != "MPLCONFIGDIR"}
    env.update(HOME=str(home), TMPDIR=str(tmp))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    folder, *cached = done.stdout.split()
    assert Path(folder).parent == tmp and any(name.startswith("fontlist") for name in cached)
    assert list(home.iterdir()) == [] and list(tmp.iterdir()) == []
