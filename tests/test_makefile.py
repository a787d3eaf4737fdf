"""`make` on a fresh machine: a Python too old is named with the way out; a broken .venv is
rebuilt rather than reused. Nothing is installed: a too-old Python stops make at once, and the
rebuild is seen with `make -n` (the check runs while the Makefile is read)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-f", str(ROOT / "Makefile"), "-C", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_python_too_old_is_named_with_the_way_out(tmp_path: Path) -> None:
    old = tmp_path / "python3.8"
    old.write_text('#!/bin/sh\n[ "$1" = --version ] && echo "Python 3.8.18"\nexit 0\n')
    old.chmod(0o755)
    done = _make(tmp_path, f"PYTHON={old}", "VENV=venv", "test")
    assert done.returncode == 2, done.stderr
    assert "relaybot needs Python 3.11 or newer" in done.stderr
    assert "Python 3.8.18" in done.stderr
    assert "make PYTHON=python3.12 test" in done.stderr
    assert not (tmp_path / "venv").exists()  # nothing was built with it


def test_a_missing_python_is_named_too(tmp_path: Path) -> None:
    done = _make(tmp_path, "PYTHON=no-such-python3.99", "VENV=venv", "run")
    assert done.returncode == 2
    assert "not found or not working" in done.stderr and "make PYTHON=python3.12 run" in done.stderr


def test_a_venv_with_a_dangling_interpreter_is_rebuilt(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(tmp_path / "gone" / "python3")
    (venv / ".installed-dev").touch()  # what a reused .venv would skip the install by
    shutil.copy(ROOT / "pyproject.toml", tmp_path)  # what the install depends on
    done = _make(tmp_path, "-n", f"PYTHON={sys.executable}", "VENV=venv", "test")
    assert done.returncode == 0, done.stderr
    assert "venv is broken or was made by another Python: rebuilding it" in done.stdout
    assert not venv.exists()
    assert "-m venv venv" in done.stdout  # and it is made again
