"""``stream-build branch request|list|status`` and ``stream-build check``: thin commands over the library.

The branch commands ask a forge (:mod:`streambuild.forges`) through
:mod:`streambuild.branches`; ``check`` runs :func:`streambuild.policy.check.run_check`.
Defaults come from the forges config file (:mod:`streambuild.forgeconfig`): a Fedora
packager types ``stream-build branch request python3.11 release-3.11``. Tokens are
read from the config file or the environment, never from options.

This module is imported by :mod:`streambuild.cli` (which registers its commands), so
it does not import that module: it has its own small error handler with the same
contract (message on stderr, the error's documented exit code, no traceback).

Exit codes: 0 done (the branch exists, was created or requested, or a request is
already open; ``check``: no rule denies), 1 ``branch status`` ended without the
branch (the request was closed, or the wait timed out), 2 bad input (names, series,
config, a package the forge does not have, a refused token), 3 ``check``: a rule
denies, 4 the forge cannot be reached or answers errors (5xx, rate limits, not JSON).
"""

from __future__ import annotations

import json
from typing import List, Optional, TYPE_CHECKING, Tuple

import click

from . import options
from .cliutil import emit_json as _emit_json
from .cliutil import handle_errors

if TYPE_CHECKING:
    from .forgeconfig import Config
    from .forges import ForgeBackend, RequestResult


def _forge(config_path: Optional[str], forge_name: Optional[str], dist_git: Optional[str],
           forge_url: Optional[str]) -> Tuple["Config", "ForgeBackend"]:
    from . import forgeconfig
    from .forges import make_forge
    from .plugins import make_plugins

    config = forgeconfig.load(config_path)
    settings = forgeconfig.override(config.forge(forge_name), dist_git, forge_url)
    return config, make_forge(make_plugins(), settings, config.http)


def _show(result: "RequestResult", json_output: bool) -> None:
    from .forges import DRY_RUN

    if json_output:
        _emit_json(result.to_json())
        return
    click.echo(result.message)
    if result.state == DRY_RUN and result.request is not None:
        request = result.request
        click.echo(f"would send: {request.get('method')} {request.get('url')}")
        for key, value in (request.get("headers") or {}).items():
            click.echo(f"  {key}: {value}")
        if request.get("body") is not None:
            click.echo(json.dumps(request["body"], indent=2, sort_keys=True))
        if request.get("command"):
            click.echo("  " + " ".join(request["command"]))


@click.group()
def branch() -> None:
    """Release-series branches of dist-git repositories: request, list, follow."""


@branch.command()
@click.argument("name")
@click.argument("series")
@options.forging
@click.option("--upstream", metavar="URL", help="Upstream git repository (default: from the spec's URL:/Source0:).")
@click.option("--from", "start_point", metavar="REF", help="git and forgejo: create the branch from this ref "
              "(default: the repository's default branch).")
@options.dry_run
@handle_errors
def request(name: str, series: str, forge_name: Optional[str], dist_git: Optional[str], forge_url: Optional[str],
            config_path: Optional[str], json_output: bool, upstream: Optional[str], start_point: Optional[str],
            dry_run: bool) -> None:
    """Ask for branch SERIES (release-X.Y, or just X.Y) of package NAME, once upstream has that series."""
    from . import branches as branches_mod
    from .errors import InputError

    config, forge = _forge(config_path, forge_name, dist_git, forge_url)
    if start_point and forge.settings.type == "pagure":
        raise InputError("--from does not apply to Pagure requests: release engineering creates the branch "
                         "from the default branch (use the forgejo or git forge to choose a start point)")
    result = branches_mod.request_branch(
        forge, name, series, branches_mod.SeriesConvention.from_policy(config.policy), upstream, start_point, dry_run,
    )
    _show(result, json_output)


@branch.command("list")
@click.argument("name")
@options.forging
@handle_errors
def list_(name: str, forge_name: Optional[str], dist_git: Optional[str], forge_url: Optional[str],
          config_path: Optional[str], json_output: bool) -> None:
    """List the branches of package NAME, release series first."""
    from . import branches as branches_mod
    from . import values

    config, forge = _forge(config_path, forge_name, dist_git, forge_url)
    found = forge.branches(values.check_name(name))
    rows = branches_mod.describe_branches(list(found), branches_mod.SeriesConvention.from_policy(config.policy))
    for row in rows:
        row["commit"] = found[str(row["branch"])]
    if json_output:
        _emit_json({"package": name, "forge": forge.settings.name, "branches": rows})
        return
    for row in rows:
        mark = f"series {row['series']}" if row["series"] else ""
        commit = str(row["commit"] or "")[:12]
        click.echo(f"{row['branch']:30} {commit:12} {mark}".rstrip())


@branch.command()
@click.argument("name")
@click.argument("series")
@options.forging
@click.option("--nowait", is_flag=True, help="Say where the request stands and return (default: follow it until "
              "the branch exists).")
@click.option("--interval", type=click.FloatRange(0.05, 3600), default=30.0, show_default=True,
              help="Seconds between polls.")
@click.option("--timeout", type=click.FloatRange(0, None), default=3600.0, show_default=True,
              help="Give up after this many seconds (exit code 1).")
@handle_errors
def status(name: str, series: str, forge_name: Optional[str], dist_git: Optional[str], forge_url: Optional[str],
           config_path: Optional[str], json_output: bool, nowait: bool, interval: float, timeout: float) -> None:
    """Show whether branch SERIES of NAME exists or is requested, and follow it until it exists (--nowait: return)."""
    from . import branches as branches_mod
    from . import errors
    from .forges import MISSING

    config, forge = _forge(config_path, forge_name, dist_git, forge_url)
    convention = branches_mod.SeriesConvention.from_policy(config.policy)
    if nowait:
        result, _ = branches_mod.branch_status(forge, name, series, convention)
        _show(result, json_output)
        if result.state == MISSING:
            raise errors.BranchNotCreated(result.message)
        return
    seen: List[str] = []

    def progress(step: "RequestResult") -> None:
        if not json_output and (not seen or seen[-1] != step.state):
            click.echo(step.message, err=True)
        seen.append(step.state)

    result = branches_mod.follow(forge, name, series, convention, interval, timeout, on_poll=progress)
    _show(result, json_output)


COMMANDS = (branch,)
