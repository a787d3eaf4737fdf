"""The shape the project promises: core never imports a platform, the top level is complete."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"telegram", "discord", "bots"}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_no_platform_and_no_adapter() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_roots(path) & FORBIDDEN)
        for path in (ROOT / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_checker_sees_imports(tmp_path: Path) -> None:
    # The test above is only honest if the walker finds every import form.
    probe = tmp_path / "probe.py"
    probe.write_text("import telegram.ext\nfrom discord import Client\ndef f():\n    import bots\n")
    assert _imported_roots(probe) >= {"telegram", "discord", "bots"}


def test_top_level_files_exist() -> None:
    for name in ("pyproject.toml", "config.example.yaml", "Dockerfile", "README.md", "Makefile"):
        assert (ROOT / name).is_file(), name
    assert (ROOT / ".ci" / "run").is_file()
    for package in ("core", "bots", "tests"):
        assert (ROOT / package).is_dir(), package
