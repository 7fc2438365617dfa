"""``streambuild/__init__.py`` declares the public API; the front-ends in plugins/ use nothing else and stay thin."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import streambuild

PLUGINS = sorted((Path(__file__).resolve().parents[2] / "plugins").rglob("*.py"))


def test_every_public_name_resolves() -> None:
    for name in streambuild.__all__:
        assert getattr(streambuild, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'frobnicate'"):
        streambuild.frobnicate  # noqa: B018


def test_importing_streambuild_costs_nothing() -> None:
    out = subprocess.run([sys.executable, "-c", "import sys, streambuild; print(sorted(m for m in sys.modules "
                          "if m.startswith('streambuild')))"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['streambuild']"


@pytest.mark.parametrize("path", PLUGINS, ids=lambda p: p.name)
def test_front_ends_use_only_the_public_api_and_are_thin(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("streambuild"):
            assert node.module == "streambuild", f"{path.name}:{node.lineno}: imports {node.module}"
            for alias in node.names:
                assert alias.name in streambuild.__all__, f"{path.name}:{node.lineno}: {alias.name} is not public"
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("streambuild."), f"{path.name}:{node.lineno}: imports {alias.name}"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "streambuild":
            assert node.attr in streambuild.__all__, f"{path.name}:{node.lineno}: streambuild.{node.attr} is not public"
    assert len(path.read_text().splitlines()) <= 150, f"{path.name} is not a thin front-end"


def test_the_public_modules_are_what_they_say() -> None:
    assert streambuild.render is importlib.import_module("streambuild.render")
    assert streambuild.command_line.name == "cli" and "install" in streambuild.command_line.list_commands(None)
