"""What every click command of stream-build shares: errors to exit codes, the manifest and stream it
means, printing.

Kept apart from :mod:`streambuild.cli` so that command modules (``cli_build``, ``cli_install``,
``koji.commands`` …) use it without importing the CLI that registers them, and light: it
imports only click and a few small modules, so ``--help`` stays fast.

Hosts (DNF's plugin, fedpkg-stream, the koji CLI plugin) run the same click commands with
``obj={"host": NAME}``: errors then propagate as :class:`~streambuild.errors.StreamBuildError`
for the host to report its own way, instead of ending the process here.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, TYPE_CHECKING, TypeVar

import click

from . import render, values
from .errors import EXIT_INTERRUPTED, EnvironmentProblem, InputError, StreamBuildError

if TYPE_CHECKING:
    from .stream import Stream

F = TypeVar("F", bound=Callable[..., Any])

INTERRUPTED = "interrupted; run again with --resume to continue"


def host() -> Optional[str]:
    """The host front-end running this command (``dnf``, ``fedpkg``, ``koji``), or None for ``stream-build``."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return obj.get("host") if isinstance(obj, dict) else None


def host_object(key: str) -> Any:
    """What the host handed over under ``key`` (the koji CLI's session, the rpkg checkout), or None."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return obj.get(key) if isinstance(obj, dict) else None


def _wants_json() -> bool:
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("json_output"):
            return True
        ctx = ctx.parent
    return False


def fail(message: str, code: int, error: Optional[BaseException] = None) -> None:
    """Report an error (standard error; with ``--json`` also a JSON object on standard output, unless the
    command's own JSON document already holds it) and exit ``code``."""
    if error is not None and _wants_json() and not getattr(error, "json_reported", False):
        click.echo(render.error_json(error, code))
    click.echo(render.error_line(message), err=True)
    sys.exit(code)


def interrupted_message() -> str:
    """What to say on Ctrl-C: advise ``--resume`` only when there is an interrupted run to continue."""
    from . import journal

    if journal.interrupted_runs():
        return INTERRUPTED
    return "interrupted (nothing had been built yet: there is nothing to resume)"


def handle_errors(func: F, interrupted: Optional[str] = None) -> F:
    """Turn every StreamBuildError into a message and its exit code; never a traceback.

    A full disk met anywhere (``OSError`` ``ENOSPC``/``EDQUOT``) is exit 4 naming the file
    system; Ctrl-C is exit 130 with ``interrupted`` or :func:`interrupted_message`. Under a
    host (:func:`host`), errors are raised for the host to report.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .workdir import disk_full, is_disk_full

        try:
            return func(*args, **kwargs)
        except StreamBuildError as exc:
            if host() is not None:
                raise
            fail(str(exc), exc.exit_code, exc)
        except KeyboardInterrupt:
            if host() is not None:
                raise
            message = interrupted or interrupted_message()
            fail(message, EXIT_INTERRUPTED, StreamBuildError(message))
        except OSError as exc:  # what no module turned into its own error: the host's answer, said as such
            if is_disk_full(exc):
                error: StreamBuildError = disk_full(exc.filename, f"writing {exc.filename}" if exc.filename else "writing a file")
            else:
                where = f": {exc.filename}" if exc.filename else ""
                error = EnvironmentProblem(f"{exc.strerror or exc}{where}")
            if host() is not None:
                raise error from None
            fail(str(error), error.exit_code, error)

    return wrapper  # type: ignore[return-value]


def path_option(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[str]:
    """A click callback for options naming a directory that rpm may see (``--workdir``, ``--installroot``):
    refuses what :func:`streambuild.values.check_path` refuses, as a usage error (exit 2)."""
    if value is None:
        return None
    try:
        values.check_path(value, f"--{param.name}")
        values.check_path(os.path.abspath(value), f"--{param.name}")
    except StreamBuildError as exc:
        raise click.BadParameter(exc.message, ctx, param) from None
    return value


# -- the manifest and the stream a command means -------------------------------------------


def manifest_path(argument: Optional[str] = None, option: Optional[str] = None) -> str:
    """The manifest: the positional MANIFEST or ``-m``/``--manifest`` (not two different ones), else
    ``stream-build.yaml`` in the current directory."""
    from .manifest import find_manifest

    if argument and option and os.path.abspath(argument) != os.path.abspath(option):
        raise InputError(f"two manifests given: {argument} and --manifest {option}")
    return find_manifest(argument or option)


def open_stream(manifest: str, workdir: Optional[str], json_output: bool = False, verbose: bool = False,
                quiet: bool = False, jobs: int = 2, config: Optional[str] = None) -> "Stream":
    """The :class:`~streambuild.stream.Stream` of a command, with the shared progress and warnings
    (:class:`~streambuild.progress.Progress`; ``json_output``: event lines on standard output)."""
    from .plugins import make_plugins
    from .progress import Progress
    from .stream import Stream

    reporter = Progress.for_terminal(json_output, verbose=verbose, quiet=quiet)
    return Stream(manifest, workdir, make_plugins(extra=[reporter]), jobs, config_path=config)


def finish_progress(stream: "Stream") -> None:
    """Stop the live status line before the result is printed."""
    for plugin in stream.plugins.manager.get_plugins():
        close = getattr(plugin, "close", None)
        if getattr(plugin, "shows_warnings", False) and close is not None:
            close()


def say(lines: Iterable[str]) -> None:
    """Print result lines on standard output."""
    for line in lines:
        click.echo(line)


def emit_json(data: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, sort_keys=True))


def host_args(group: click.Group, args: Sequence[str], verbose: bool = False, quiet: bool = False) -> List[str]:
    """``args`` for ``group`` with the host's own ``-v``/``-q`` (DNF's, fedpkg's, koji's ``-q`` and ``-d``)
    passed on to the subcommand, where it takes them."""
    args = list(args)
    command = group.commands.get(args[0]) if args and isinstance(group, click.Group) and args[0] in group.commands else None
    if command is None and args and hasattr(group, "get_command"):
        command = group.get_command(click.Context(group), args[0])
    names = {p.name for p in command.params} if command is not None else set()
    flags = [flag for flag, wanted, name in (("-v", verbose, "verbose"), ("-q", quiet, "quiet")) if wanted and name in names]
    return args[:1] + flags + args[1:] if flags else args


class HostCall:
    """One stream-build subcommand parsed for a host (``dnf``, ``fedpkg``): its click context, to run later.

    The host hands over the words after the subcommand; they are parsed by the subcommand's own
    click command, so every option has the name, the meaning and the errors it has in
    ``stream-build``. ``--help`` prints that command's help (with the host's name) and exits 0;
    a usage error prints click's message and exits 2, as the hosts' own argument parsers do.
    """

    def __init__(self, prog: str, group: click.Group, args: Sequence[str], obj: Dict[str, Any]) -> None:
        self.name = args[0]
        command = group.get_command(click.Context(group), self.name)
        if command is None:
            raise InputError(f"unknown subcommand {self.name!r}")
        try:
            self.context = command.make_context(f"{prog} {self.name}", list(args[1:]), obj=obj)
        except click.exceptions.Exit as done:
            sys.exit(done.exit_code)
        except click.ClickException as exc:
            if "--json" in args:
                click.echo(render.error_json(exc, exc.exit_code))
            exc.show()
            sys.exit(exc.exit_code)

    @property
    def params(self) -> Dict[str, Any]:
        return self.context.params

    def run(self) -> None:
        """Run the command; stream-build's errors propagate (the host reports them its own way)."""
        with self.context:
            self.context.command.invoke(self.context)


def run_for_host(group: click.Group, args: Sequence[str], prog: str, obj: Dict[str, Any], interrupted: str = "interrupted") -> int:
    """Run ``group`` for a host that keeps its process (the koji CLI): the exit code, errors said as ``prog``'s."""
    try:
        group.main(args=list(args), prog_name=prog, standalone_mode=False, obj=obj)
    except StreamBuildError as exc:
        if "--json" in args:
            click.echo(render.error_json(exc, exc.exit_code))
        click.echo(render.error_line(str(exc), prog), err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo(render.error_line(interrupted, prog), err=True)
        return EXIT_INTERRUPTED
    return 0
