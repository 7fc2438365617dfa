"""What every click command of stream-build shares: turning errors into exit codes, JSON output.

Kept apart from :mod:`streambuild.cli` so that command groups living in other modules
(``branch``, ``check``, ``koji``) can use it without importing the CLI that registers them.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from typing import Any, Callable, Optional, TypeVar

import click

from . import journal, values
from .errors import EXIT_INTERRUPTED, StreamBuildError
from .workdir import disk_full, is_disk_full

F = TypeVar("F", bound=Callable[..., Any])

INTERRUPTED = "interrupted; run again with --resume to continue"


def fail(message: str, code: int) -> None:
    click.echo(f"stream-build: error: {values.redact(message)}", err=True)
    sys.exit(code)


def interrupted_message() -> str:
    """What to say on Ctrl-C: advise ``--resume`` only when there is an interrupted run to continue."""
    if journal.interrupted_runs():
        return INTERRUPTED
    return "interrupted (nothing had been built yet: there is nothing to resume)"


def handle_errors(func: F, interrupted: Optional[str] = None) -> F:
    """Turn every StreamBuildError into a message and its exit code; never a traceback.

    A full disk met anywhere (``OSError`` ``ENOSPC``/``EDQUOT``) is exit 4 naming the file
    system; Ctrl-C is exit 130 with ``interrupted`` or :func:`interrupted_message`.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StreamBuildError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail(interrupted or interrupted_message(), EXIT_INTERRUPTED)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            error = disk_full(exc.filename, f"writing {exc.filename}" if exc.filename else "writing a file")
            fail(str(error), error.exit_code)

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


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))
