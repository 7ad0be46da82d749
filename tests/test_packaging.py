"""The built wheel ships the templates and runs from outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import PROJECT_ROOT


def test_wheel_contains_templates_and_finds_them(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(PROJECT_ROOT)],
        capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    wheel = next(tmp_path.glob("mlgit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for required in ("mlgit/templates/project/classifier/dvc.yaml",
                     "mlgit/templates/project/minimal/src/train.py",
                     "mlgit/templates/stage/train.py",
                     "mlgit/cli/__init__.py"):
        assert required in names, f"{required} missing from the wheel"
    entry = [n for n in names if n.endswith("entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry[0]).decode()
    assert "git-mlgit = " in text and "mlgit = " in text
    # unpack it and use it with the source tree out of sight: the templates come from the wheel
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    code = ("import mlgit.scaffold as s; print(s.templates_root()); "
            "print(sorted(s.list_templates()))")
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {code}"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert str(site) in out.stdout and "'classifier'" in out.stdout
