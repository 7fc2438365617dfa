"""``stream-build check``: every stream policy on the locked set, before anything is built (exit 3 on a denial)."""

from __future__ import annotations

import json
from typing import Optional

import click

from . import options
from .cliutil import emit_json, handle_errors, manifest_path, open_stream

_VERDICT_MARK = {"deny": "DENY ", "warn": "warn ", "allow": "allow"}


@click.command()
@options.manifest_argument
@options.common
@options.locked
@click.option("--user", metavar="NAME", help="Whose commit rights to check (default: the config's user).")
@click.option("--acl-file", type=click.Path(dir_okay=False), help="Commit rights from this file instead of the config's source.")
@options.config
@handle_errors
def check(manifest: Optional[str], manifest_option: Optional[str], workdir: Optional[str], json_output: bool,
          verbose: bool, quiet: bool, locked: bool, user: Optional[str], acl_file: Optional[str],
          config_path: Optional[str]) -> None:
    """Check the stream set against every stream policy before anything is built (exit 3 on a denial)."""
    from . import forgeconfig, render, values
    from .policy.check import CheckOptions, run_check
    from .errors import PolicyDenied
    from .policy import ALLOW, DENY, WARN, denials

    if user is not None:
        values.check_name(user, "--user")
    config = forgeconfig.load(config_path)
    stream = open_stream(manifest_path(manifest, manifest_option), workdir, False, verbose, quiet)
    check_options = CheckOptions.from_config(config, stream.plugins, user, acl_file)
    with stream.workdir:
        findings = run_check(stream, check_options, "locked" if locked else "auto")
    denied = denials(findings)
    error = None
    if denied:
        rules = sorted({f.rule for f in denied})
        error = PolicyDenied(f"{len(denied)} finding(s) deny this stream set ({', '.join(rules)})")
    if json_output:
        document = {"findings": [f.to_json() for f in findings]}
        if error is not None:  # the error is part of the one document (not a second one)
            document["error"] = json.loads(render.error_json(error, error.exit_code))
            error.json_reported = True  # type: ignore[attr-defined]
        emit_json(document)
    else:
        for finding in findings:
            click.echo(f"{_VERDICT_MARK.get(finding.verdict, finding.verdict)}  {finding.component:24} "
                       f"{finding.rule:22} {finding.reason}")
            if finding.hint and finding.verdict != ALLOW:
                click.echo(f"{'':32}hint: {finding.hint}")
        counts = {v: sum(f.verdict == v for f in findings) for v in (DENY, WARN, ALLOW)}
        click.echo(f"{counts[DENY]} denied, {counts[WARN]} warnings, {counts[ALLOW]} allowed")
    if error is not None:
        raise error


COMMANDS = (check,)
