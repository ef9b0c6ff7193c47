"""The CLI in a subprocess that file permissions apply to, for tests of unwritable folders and files."""

import os
import shutil
import subprocess
import sys

import pytest


def unprivileged(argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``python -m facesafe.cli *argv``; as root, without CAP_DAC_OVERRIDE (skips when setpriv is missing)."""
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
    return subprocess.run([*prefix, sys.executable, "-m", "facesafe.cli", *argv], capture_output=True, text=True, timeout=300, check=False)
