"""README cannot drift from the code (as datasette's tests/test_docs.py): its command table against the
click commands, its exit codes against errors.py, its hook list against hookspecs.py, and the CLI's
lazy command table against the commands it names."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Dict, List

import click
import pytest

from streambuild import cli, errors, hookspecs

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n{title}\n")
    following = re.search(r"\n#{2,3} ", README[start + len(title) + 2:])
    return README[start: start + len(title) + 2 + (following.start() if following else len(README))]


def table_rows(text: str) -> List[List[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
            rows.append([c.strip() for c in cells])
    return rows[1:]  # without the header


def command_spans() -> List[str]:
    """Every `stream-build …` synopsis in the first column of the command table (continuations completed)."""
    spans = []
    for row in table_rows(section("## Commands")):
        previous = None
        for span in re.findall(r"`([^`]+)`", row[0]):
            span = span.replace("\\|", "|")
            if span.startswith("stream-build "):
                previous = span.split()[1]
            elif previous is not None:  # `watch [MANIFEST]` after `stream-build status …`; `branch list …`
                span = "stream-build " + (span if span.split()[0] in cli.COMMANDS else f"{previous} {span}")
            spans.append(span)
    return spans


def test_the_command_table_names_every_command() -> None:
    named = {span.split()[1] for span in command_spans()}
    assert named == set(cli.COMMANDS)


def _options(command: click.Command) -> Dict[str, click.Parameter]:
    return {opt: p for p in command.params for opt in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}


@pytest.mark.parametrize("span", command_spans())
def test_every_option_in_the_table_is_the_commands(span: str) -> None:
    words = span.split()[1:]
    command = cli.load(words[0])
    rest = words[1:]
    if isinstance(command, click.Group):
        names = [w for w in re.split(r"[|\s]", " ".join(rest[:1])) if w]
        subcommands = [command.get_command(click.Context(command), n) for n in names]
        assert all(subcommands), f"{span}: {names} are not all subcommands of {words[0]}"
        targets = subcommands
        rest = rest[1:]
    else:
        targets = [command]
    for token in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", " ".join(rest)):
        for target in targets:
            assert token in _options(target), f"{span}: {token} is not an option of {target.name}"


def test_the_exit_codes_are_errors_py() -> None:
    documented = {int(row[0]) for row in table_rows(section("### Exit codes"))}
    defined = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert documented == defined
    for cls in vars(errors).values():
        if inspect.isclass(cls) and issubclass(cls, errors.StreamBuildError):
            assert cls.exit_code in documented, cls


def test_the_hook_list_is_hookspecs_py() -> None:
    specified = {name for name, func in vars(hookspecs).items()
                 if callable(func) and name.startswith("streambuild_") and hasattr(func, "streambuild_spec")}
    assert "streambuild_register" in specified and "streambuild_event" in specified  # the markers are found
    listed = set(re.findall(r"`(streambuild_\w+)`", section("## Plugins")))
    assert listed == specified


def test_the_lazy_command_table_is_the_commands() -> None:
    """``stream-build --help`` lists COMMANDS without importing them: each line must be its command's."""
    for name, (path, short) in cli.COMMANDS.items():
        command = cli.load(name)
        assert command.name in (name, path.rsplit(":", 1)[1].replace("_group", "")), name
        assert command.get_short_help_str(limit=150) == short, name
