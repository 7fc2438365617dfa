"""What every click command of stream-build shares: turning errors into exit codes, JSON output.

Kept apart from :mod:`streambuild.cli` so that command groups living in other modules
(``branch``, ``check``, ``koji``) can use it without importing the CLI that registers them.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable, TypeVar

import click

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


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))
