#!/usr/bin/python3
"""Write man pages for the ``stream-build`` command line, generated from its click commands.

    make-manpages.py --output DIR [--date YYYY-MM-DD]

Writes ``stream-build.1`` (the commands, exit status, environment) and one page per
command, ``stream-build-<command>.1`` (``stream-build-branch-request.1`` for nested
groups), from the same help texts and options ``--help`` prints, so the pages never
disagree with the program. The date is ``--date``, else ``$SOURCE_DATE_EPOCH``
(reproducible builds), else today. The RPM spec runs it from ``%install``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from typing import Iterator, List, Tuple

import click

from streambuild import __version__
from streambuild import errors
from streambuild.cli import cli

PROG = "stream-build"

EXIT_STATUS = [
    (errors.EXIT_OK, "success"),
    (errors.EXIT_FAILED, "a build or an install failed"),
    (errors.EXIT_BAD_INPUT, "bad input: the manifest, the lock, an argument, a ref or a source"),
    (errors.EXIT_POLICY, "a stream policy denied the set"),
    (errors.EXIT_ENVIRONMENT, "the environment: a missing tool, or the work directory in use by another run"),
    (errors.EXIT_INTERRUPTED, "interrupted; run again with --resume to continue"),
]

SEE_ALSO = ["dnf(8)", "fedpkg(1)", "koji(1)", "buildah(1)", "rpmbuild(8)"]


def escape(text: str) -> str:
    """Text safe in a troff line: backslashes, hyphens and a leading '.' or "'"."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def paragraphs(text: str) -> List[str]:
    """click help text as troff paragraphs (click's \\b marks a block kept as it is)."""
    out: List[str] = []
    for block in (text or "").strip().split("\n\n"):
        block = block.strip()
        if not block:
            continue
        if block.startswith("\b"):
            out += [".PP", ".nf"] + [escape(line) for line in block[1:].strip("\n").splitlines()] + [".fi"]
        else:
            out += [".PP", escape(" ".join(line.strip() for line in block.splitlines()))]
    return out


def walk(group: click.Group, ctx: click.Context, path: Tuple[str, ...] = ()) -> Iterator[Tuple[Tuple[str, ...], click.Command, click.Context]]:
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        sub = click.Context(command, info_name=name, parent=ctx)
        yield path + (name,), command, sub
        if isinstance(command, click.Group):
            yield from walk(command, sub, path + (name,))


def header(title: str, date: str, summary: str) -> List[str]:
    return [
        f'.TH "{title.upper()}" "1" "{date}" "{PROG} {__version__}" "User Commands"',
        ".SH NAME",
        f"{escape(title)} \\- {escape(summary)}",
    ]


def option_lines(command: click.Command, ctx: click.Context) -> List[str]:
    lines: List[str] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        lines += [".TP", f"\\fB{escape(names)}\\fR", escape(help_text or "")]
    return lines


def command_page(path: Tuple[str, ...], command: click.Command, ctx: click.Context, date: str) -> str:
    title = "-".join((PROG, *path))
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = header(title, date, command.get_short_help_str(limit=120).rstrip("."))
    lines += [".SH SYNOPSIS", f"\\fB{escape(' '.join((PROG, *path)))}\\fR {escape(usage)}"]
    lines += [".SH DESCRIPTION"] + paragraphs(command.help or "")
    if isinstance(command, click.Group):
        lines += [".SH COMMANDS"]
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                lines += [".TP", f"\\fB{escape(name)}\\fR", escape(sub.get_short_help_str(limit=120))]
    options = option_lines(command, ctx)
    if options:
        lines += [".SH OPTIONS"] + options
    lines += [".SH SEE ALSO", f"\\fB{PROG}\\fR(1)"]
    return "\n".join(lines) + "\n"


def main_page(pages: List[Tuple[str, ...]], ctx: click.Context, date: str) -> str:
    lines = header(PROG, date, "build stream sets of Fedora packages from upstream release-series branches")
    lines += [".SH SYNOPSIS", f"\\fB{PROG}\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]"]
    lines += [".SH DESCRIPTION"] + paragraphs(cli.help or "")
    lines += paragraphs(
        "A manifest (stream-build.yaml) names which release-series branch of which dist-git package to "
        "build on a Fedora base. stream-build locks every ref to a commit, plans the build order from the "
        "specs, builds in dependency order, publishes one repository of the results and installs what the "
        "manifest's install: section names. The same commands are available as 'dnf stream-build' and "
        "'fedpkg-stream'."
    )
    lines += [".SH COMMANDS"]
    for path in pages:
        command = cli
        for part in path:
            command = command.get_command(ctx, part)  # type: ignore[union-attr, assignment]
        lines += [".TP", f"\\fB{escape(' '.join(path))}\\fR",
                  escape(command.get_short_help_str(limit=120)) + f" See \\fB{escape('-'.join((PROG, *path)))}\\fR(1)."]
    lines += [".SH OPTIONS"] + option_lines(cli, ctx)
    lines += [".SH EXIT STATUS"]
    for code, meaning in EXIT_STATUS:
        lines += [".TP", f"\\fB{code}\\fR", escape(meaning)]
    lines += [".SH ENVIRONMENT", ".TP", "\\fB_STREAM_BUILD_COMPLETE\\fR",
              escape("used by shell completion; see 'stream-build completion'.")]
    lines += [".SH SEE ALSO", ", ".join(f"\\fB{escape(p.split('(')[0])}\\fR({p.split('(')[1]}" for p in SEE_ALSO)]
    return "\n".join(lines) + "\n"


def build_date(given: str = "") -> str:
    if given:
        datetime.date.fromisoformat(given)
        return given
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%d")


def write_pages(output: str, date: str) -> List[str]:
    """Write every page into ``output``; return the file names written."""
    os.makedirs(output, exist_ok=True)
    ctx = click.Context(cli, info_name=PROG)
    written = []
    entries = list(walk(cli, ctx))
    for path, command, sub in entries:
        name = "-".join((PROG, *path)) + ".1"
        with open(os.path.join(output, name), "w", encoding="utf-8") as handle:
            handle.write(command_page(path, command, sub, date))
        written.append(name)
    with open(os.path.join(output, f"{PROG}.1"), "w", encoding="utf-8") as handle:
        handle.write(main_page([p for p, _c, _s in entries], ctx, date))
    written.append(f"{PROG}.1")
    return sorted(written)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="directory to write the pages into")
    parser.add_argument("--date", default="", help="date on the pages (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    try:
        date = build_date(args.date)
    except ValueError:
        parser.error(f"--date {args.date!r} is not YYYY-MM-DD")
    for name in write_pages(args.output, date):
        print(os.path.join(args.output, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
