"""docs/datasets.md: every recipe runs as written, in order, with the real detector (CLI lines through `python -m facesafe.cli`)."""

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "datasets.md"


def _blocks() -> list[tuple[str, str]]:
    return re.findall(r"```(python|sh)\n(.*?)```", DOC.read_text(), flags=re.S)


def test_recipes_run_in_order(tmp_path: Path, monkeypatch):
    blocks = _blocks()
    assert [kind for kind, _ in blocks].count("sh") == 3 and len(blocks) == 9
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for kind, code in blocks:
        if kind == "python":
            exec(compile(code, str(DOC), "exec"), namespace)
            continue
        shell = f'facesafe() {{ "{sys.executable}" -m facesafe.cli "$@"; }}\nset -e\n{code}'
        done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})
        assert done.returncode == 0, done.stderr + done.stdout
