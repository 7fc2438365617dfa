#!/usr/bin/python3
"""Write man pages for the ``stream-build`` command line, generated from its click commands.

    make-manpages.py --output DIR [--date YYYY-MM-DD]

Writes ``stream-build.1`` (the commands, exit status, environment, files), one page per
command, ``stream-build-<command>.1`` (``stream-build-branch-request.1`` for nested
groups), and ``dnf-stream-build.8`` for the DNF plugin, from the same help texts and
options ``--help`` prints, so the pages never disagree with the program. ENVIRONMENT
names every variable stream-build reads (``tests/integration/test_packaging.py`` finds
them in the code and checks each is here). The date is ``--date``, else ``$SOURCE_DATE_EPOCH``
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

SEE_ALSO = ["dnf-stream-build(8)", "dnf(8)", "fedpkg(1)", "koji(1)", "buildah(1)", "rpmbuild(8)"]

#: Every environment variable stream-build reads, and what it does.
ENVIRONMENT = [
    ("STREAM_BUILD_CONFIG", "stream-build's configuration file (forges, policy, commit rights), read instead of "
                            "/etc/stream-build/forges.toml and ~/.config/stream-build/forges.toml; --config wins."),
    ("STREAM_BUILD_PAGURE_TOKEN", "the API token for the pagure forge (its token_env); never given as an option."),
    ("STREAM_BUILD_FORGEJO_TOKEN", "the API token for the forgejo forge (its token_env)."),
    ("STREAM_BUILD_KOJI_PROFILE", "the Koji profile of the koji backend when -p/--profile is not given (default: koji)."),
    ("STREAM_BUILD_KOJI_TARGET", "the Koji build target when --target is not given (default: the profile's "
                                 "streambuild_target, else one named after the base)."),
    ("STREAM_BUILD_KOJI_CONFIG", "an extra Koji configuration file to read the profile from (--koji-config wins)."),
    ("STREAMBUILD_HUB_CONFIG", "the Koji hub and builder plugins' configuration file "
                               "(default: /etc/koji-hub/plugins/streambuild.conf, /etc/kojid/plugins/streambuild.conf)."),
    ("STREAM_BUILD_RAWHIDE_VERSION", "rawhide's Fedora release number for a fedora-rawhide base (default: the newest "
                                     "release the base's metadata names when base_repos are listed, else Fedora's "
                                     "schedule: one more at each branching, in February and August)."),
    ("STREAM_BUILD_SANDBOX", "off runs spec analysis unconfined on a host without bubblewrap (for specs you trust; "
                             "a warning says so every time); builds always need their sandbox."),
    ("STREAM_BUILD_DOWNLOAD_DEADLINE", "seconds a lookaside download may take before the per-byte allowance (default 90)."),
    ("STREAM_BUILD_DOWNLOAD_MIN_RATE", "bytes a second a download must keep up (default 16384: one second per 16 KiB)."),
    ("STREAM_BUILD_DOWNLOAD_MAX_BYTES", "the largest lookaside file accepted (default 1 GiB)."),
    ("STREAM_BUILD_DOWNLOAD_READ_TIMEOUT", "seconds a download may wait for its next bytes (default 30)."),
    ("STREAM_BUILD_DNF5_INSTALLROOT", "set by the dnf5 plugin for its Python side: DNF5's --installroot."),
    ("STREAM_BUILD_DNF5_RELEASEVER", "set by the dnf5 plugin: --releasever, when given on the command line."),
    ("STREAM_BUILD_DNF5_ASSUMEYES", "set by the dnf5 plugin: 1 for -y."),
    ("STREAM_BUILD_DNF5_ASSUMENO", "set by the dnf5 plugin: 1 for --assumeno."),
    ("STREAM_BUILD_DNF5_QUIET", "set by the dnf5 plugin: 1 for -q."),
    ("_STREAM_BUILD_COMPLETE", "used by shell completion; see 'stream-build completion'."),
]

#: The files stream-build reads and writes.
FILES = [
    ("stream-build.yaml", "the manifest a command uses when none is named (-m/--manifest), in the current directory."),
    ("stream-build.lock", "the lock beside the manifest: the manifest's name with .lock for .yaml "
                          "(stream-build.yaml: stream-build.lock)."),
    (".stream-build/", "the work directory beside the manifest (--workdir moves it): git mirrors, sources, analyses, "
                       "results, repos/stream (the stream's repository), logs/ and journal.jsonl, a line per transition."),
    ("/etc/stream-build/forges.toml", "the system's configuration: forges, policy, commit rights."),
    ("~/.config/stream-build/forges.toml", "the user's configuration (under $XDG_CONFIG_HOME when set)."),
    ("~/.koji/config, /etc/koji.conf, /etc/koji.conf.d/", "Koji profiles, read by koji's own reader."),
    ("/etc/koji-hub/plugins/streambuild.conf", "the Koji hub plugin's configuration."),
]


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
    lines += [".SH ENVIRONMENT"]
    for name, meaning in ENVIRONMENT:
        lines += [".TP", f"\\fB{escape(name)}\\fR", escape(meaning)]
    lines += [".SH FILES"]
    for name, meaning in FILES:
        lines += [".TP", f"\\fI{escape(name)}\\fR", escape(meaning)]
    lines += [".SH SEE ALSO", ", ".join(f"\\fB{escape(p.split('(')[0])}\\fR({p.split('(')[1]}" for p in SEE_ALSO)]
    return "\n".join(lines) + "\n"


#: The subcommands of ``dnf stream-build`` (plugins/dnf/dnf_stream_build.py's SUBCOMMANDS; a test compares).
DNF_SUBCOMMANDS = ("build", "watch", "install", "plan", "lock", "status")
#: Options DNF parses itself wherever they stand: never the subcommand's.
DNF_OWN = {"assumeyes", "assumeno", "installroot", "verbose", "quiet", "config_path"}


def dnf_page(ctx: click.Context, date: str) -> str:
    """``dnf-stream-build(8)``: the DNF plugin, whose subcommands take stream-build's own arguments."""
    title = "dnf-stream-build"
    lines = [f'.TH "{title.upper()}" "8" "{date}" "{PROG} {__version__}" "DNF Plugins"', ".SH NAME",
             f"{escape(title)} \\- {escape('build stream sets and install them, from DNF')}",
             ".SH SYNOPSIS", f"\\fBdnf\\fR [\\fIDNF OPTIONS\\fR] \\fBstream\\-build\\fR \\fISUBCOMMAND\\fR "
             "[\\fIARGUMENTS\\fR]", ".SH DESCRIPTION"]
    lines += paragraphs(
        "The DNF4 command plugin of stream-build (dnf5 stream-build is its DNF5 counterpart). The ARGUMENTS "
        "of a subcommand are those of the stream-build command of the same name, with the same meaning: "
        "packages are positional arguments, the manifest is -m/--manifest, else stream-build.yaml in the "
        "current directory. DNF's own options keep DNF's meaning wherever they stand: -y and --assumeno "
        "answer DNF's confirmation (--assumeno wins), --installroot and --releasever (which must match the "
        "stream's base) apply to install, -v and -q are passed on to the subcommand. install runs DNF's own "
        "transaction with the stream's repository added; every requested package must come from the stream, "
        "and one installed at an older version is upgraded to the stream's. The plugin needs the streambuild "
        "Python package importable by the interpreter DNF runs under (the python3-streambuild package).")
    lines += [".SH SUBCOMMANDS"]
    for name in DNF_SUBCOMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        sub = click.Context(command, info_name=name, parent=ctx)
        usage = " ".join(command.collect_usage_pieces(sub))
        lines += [".TP", f"\\fB{escape(name)}\\fR {escape(usage)}", escape(command.get_short_help_str(limit=200))]
        for param in command.get_params(sub):
            record = param.get_help_record(sub)
            if record is not None and param.name not in DNF_OWN and param.name != "help":
                lines += [".RS", ".TP", f"\\fB{escape(record[0])}\\fR", escape(record[1] or ""), ".RE"]
    lines += [".SH EXIT STATUS", ".TP", "\\fB0\\fR", "success", ".TP", "\\fB1\\fR",
              escape("an error, as for every DNF command (Error: stream-build: ...); with --json the error is also a "
                     "JSON object on standard output with stream-build's own exit code"),
              ".TP", "\\fB2\\fR", escape("a usage error (an unknown subcommand or option)")]
    lines += [".SH FILES"]
    for name, meaning in FILES[:3]:
        lines += [".TP", f"\\fI{escape(name)}\\fR", escape(meaning)]
    lines += [".SH SEE ALSO", "\\fBstream\\-build\\fR(1), \\fBdnf\\fR(8)"]
    return "\n".join(lines) + "\n"


def build_date(given: str = "") -> str:
    if given:
        datetime.date.fromisoformat(given)
        return given
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%d")


def write_pages(output: str, date: str, dnf_output: str = "") -> List[str]:
    """Write every page into ``output`` (``dnf-stream-build.8`` into ``dnf_output``, default the same);
    return the file names written."""
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
    os.makedirs(dnf_output or output, exist_ok=True)
    with open(os.path.join(dnf_output or output, "dnf-stream-build.8"), "w", encoding="utf-8") as handle:
        handle.write(dnf_page(ctx, date))
    written.append("dnf-stream-build.8")
    return sorted(written)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="directory to write the pages into")
    parser.add_argument("--date", default="", help="date on the pages (YYYY-MM-DD)")
    parser.add_argument("--dnf-output", default="", help="directory for dnf-stream-build.8 (default: --output)")
    args = parser.parse_args(argv)
    try:
        date = build_date(args.date)
    except ValueError:
        parser.error(f"--date {args.date!r} is not YYYY-MM-DD")
    for name in write_pages(args.output, date, args.dnf_output):
        print(os.path.join(args.dnf_output or args.output if name.endswith(".8") else args.output, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
