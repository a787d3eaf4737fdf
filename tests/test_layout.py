"""The shape the project promises: core never imports a platform, each platform keeps to its
own folder under bots/, shared pieces import no platform, every package says what it holds,
and importing a bots module changes nothing in the process."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The libraries of the platforms (Telegram, Discord, and the usual WeChat ones).
PLATFORM_LIBRARIES = {"telegram", "discord", "wechatpy", "itchat", "wechaty"}
SHARED = "shared"  # bots/shared: what adapters share; it is no platform


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, text: str | None = None) -> set[str]:
    """Every module the file ``path`` of the tree imports (its ``text``, if given, instead of
    what is on disk), by full dotted name: relative imports resolved."""
    source = path.read_text(encoding="utf-8") if text is None else text
    tree = ast.parse(source, str(path))
    package = _module_of(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}  # "from bots import x"
    return found


def _roots(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def _platform_folders() -> list[str]:
    return sorted(
        p.name
        for p in (ROOT / "bots").iterdir()
        if p.is_dir() and (p / "__init__.py").is_file() and p.name not in (SHARED, "http")
    )


def _offenders(folder: Path, forbidden: Callable[[str], bool]) -> dict[str, list[str]]:
    found = {
        str(path.relative_to(ROOT)): sorted(m for m in _imported_modules(path) if forbidden(m))
        for path in folder.rglob("*.py")
    }
    return {k: v for k, v in found.items() if v}


def test_core_imports_no_platform_and_no_adapter() -> None:
    forbidden = PLATFORM_LIBRARIES | {"bots"}
    assert _offenders(ROOT / "core", lambda m: m.split(".")[0] in forbidden) == {}


def test_shared_adapter_pieces_import_no_platform() -> None:
    platforms = _platform_folders()

    def forbidden(module: str) -> bool:
        parts = module.split(".")
        in_a_platform_folder = parts[0] == "bots" and len(parts) > 1 and parts[1] in platforms
        return parts[0] in PLATFORM_LIBRARIES or in_a_platform_folder

    assert _offenders(ROOT / "bots" / SHARED, forbidden) == {}


def test_a_platform_folder_imports_no_other_platform() -> None:
    platforms = _platform_folders()
    assert {"telegram", "console", "discord", "wechat"} <= set(platforms)
    libraries = {"telegram": "telegram", "discord": "discord"}
    for own in platforms:

        def forbidden(module: str, own: str = own) -> bool:
            parts = module.split(".")
            other_folder = parts[0] == "bots" and len(parts) > 1 and parts[1] in platforms
            other_library = parts[0] in PLATFORM_LIBRARIES and libraries.get(own) != parts[0]
            return (other_folder and parts[1] != own) or other_library

        assert _offenders(ROOT / "bots" / own, forbidden) == {}, own


def test_every_package_has_an_init_that_says_what_it_holds() -> None:
    for top in ("core", "bots"):
        for folder in [ROOT / top, *(ROOT / top).rglob("*")]:
            if not folder.is_dir() or folder.name == "__pycache__":
                continue
            if not any(folder.glob("*.py")):
                continue
            init = folder / "__init__.py"
            assert init.is_file(), f"{folder.relative_to(ROOT)} has no __init__.py"
            docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
            assert docstring and docstring.strip(), f"{init.relative_to(ROOT)} has no docstring"


def test_checker_sees_imports() -> None:
    # The tests above are only honest if the walker finds every import form.
    text = (
        "import telegram.ext\nfrom discord import Client\ndef f():\n    import bots\n"
        "from ..telegram import adapter\nfrom . import settings\nfrom bots import wechat\n"
    )
    found = _imported_modules(ROOT / "bots" / "discord" / "probe.py", text)
    assert _roots(found) >= {"telegram", "discord", "bots"}
    assert {"bots.telegram.adapter", "bots.discord.settings", "bots.wechat"} <= found


def test_importing_every_bots_module_changes_nothing_in_the_process() -> None:
    """In a fresh interpreter: the environment is the same after importing every module of
    bots/ (``python -m bots`` runs the command, so it is left out), and the table of
    platforms loads no platform library."""
    script = """
import importlib, json, os, pkgutil, sys
import bots
before = dict(os.environ)
import bots.platforms
platform_libraries = sorted(m for m in ("telegram", "discord") if m in sys.modules)
names = [m.name for m in pkgutil.walk_packages(bots.__path__, "bots.")]
for name in names:
    if name != "bots.__main__":
        importlib.import_module(name)
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print(json.dumps({"names": names, "changed": changed, "libraries": platform_libraries}))
"""
    # without what an adapter started by an earlier test may have set in this process
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTB_")}
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "bots.telegram.adapter" in result["names"] and "bots.cli" in result["names"]
    assert result["changed"] == []
    assert result["libraries"] == []


def test_top_level_files_exist() -> None:
    for name in ("pyproject.toml", "config.example.yaml", "Dockerfile", "README.md", "Makefile"):
        assert (ROOT / name).is_file(), name
    assert (ROOT / ".ci" / "run").is_file()
    for package in ("core", "bots", "tests"):
        assert (ROOT / package).is_dir(), package
