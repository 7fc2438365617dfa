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

from . import values
from .errors import EXIT_INTERRUPTED, StreamBuildError

F = TypeVar("F", bound=Callable[..., Any])

INTERRUPTED = "interrupted; run again with --resume to continue"


def fail(message: str, code: int) -> None:
    click.echo(f"stream-build: error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F, interrupted: str = INTERRUPTED) -> F:
    """Turn every StreamBuildError into a message and its exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StreamBuildError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail(interrupted, EXIT_INTERRUPTED)

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
