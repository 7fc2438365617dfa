"""The opt-in real-hub tier is skipped in CI: its stream-build command lines are parsed here, by the
real click commands, so that a subcommand or an option that no longer exists fails in every run,
not only when someone runs that tier by hand. (A value that changed meaning, as ``--config``
did when the Koji file became ``--koji-config``, parses still: only running the tier finds it.)"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Tuple

import click
import pytest

from streambuild.cli import cli

TIER = Path(__file__).resolve().parents[1] / "integration" / "test_koji_real.py"
#: what ``RealKoji.cli`` appends to every command line
APPENDED = ["--profile", "hub-alice", "--koji-config", str(TIER)]


def _literal(node: ast.expr) -> str:
    """A string literal as it is; anything computed (a manifest path, an f-string) as an existing file."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else str(TIER)


def _command_lines() -> Iterator[Tuple[int, List[str]]]:
    for node in ast.walk(ast.parse(TIER.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "cli" and isinstance(func.value, ast.Name) \
                and func.value.id == "real":
            yield node.lineno, [_literal(a) for a in node.args] + APPENDED
        elif isinstance(func, ast.Attribute) and func.attr == "run" and node.args \
                and isinstance(node.args[0], ast.List) and len(node.args[0].elts) > 3:
            words = [_literal(e) for e in node.args[0].elts]
            if words[1:3] == ["-m", "streambuild.cli"]:  # [sys.executable, "-m", "streambuild.cli", ...]
                yield node.lineno, words[3:]


def _parse(args: List[str]) -> None:
    """Resolve the subcommands as the CLI does, then parse the rest with the last one's options."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="stream-build")
    while isinstance(command, click.Group) and args and command.get_command(ctx, args[0]) is not None:
        found = command.get_command(ctx, args[0])
        assert found is not None
        command, args = found, args[1:]
        ctx = click.Context(command, info_name=command.name, parent=ctx)
    command.make_context(command.name or "stream-build", list(args), parent=ctx.parent)


LINES = list(_command_lines())


def test_the_tier_has_command_lines_to_check() -> None:
    assert len(LINES) >= 5


@pytest.mark.parametrize("line, args", LINES, ids=[f"line{n}" for n, _ in LINES])
def test_each_command_line_of_the_real_hub_tier_parses(line: int, args: List[str]) -> None:
    try:
        _parse(args)
    except click.UsageError as exc:
        pytest.fail(f"test_koji_real.py:{line}: stream-build {' '.join(args)}: {exc.format_message()}")
