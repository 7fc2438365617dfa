"""Progress reporting, as a plugin on ``streambuild_event``.

On a terminal: one line per component state change with the elapsed time, and the
tail of the log when a build fails. With ``--json``: every event as one JSON line
on standard output, for scripts. Otherwise quiet: the command prints its summary.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any, Mapping, Optional

from . import values
from .plugins import hookimpl

_MARK = {"building": "…", "done": "✓", "cached": "=", "failed": "✗", "skipped": "-", "not-started": "-"}


class Progress:
    def __init__(self, mode: str, stream: Optional[IO[str]] = None) -> None:
        """``mode`` is ``tty``, ``json`` or ``quiet``."""
        self.mode = mode
        self.out = stream or (sys.stdout if mode == "json" else sys.stderr)
        self.start = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def for_terminal(cls, json_output: bool) -> "Progress":
        if json_output:
            return cls("json", sys.stdout)
        return cls("tty" if sys.stderr.isatty() else "quiet", sys.stderr)

    @hookimpl
    def streambuild_event(self, event: Mapping[str, Any]) -> None:
        with self._lock:
            if self.mode == "json":
                self.out.write(values.redact(json.dumps(dict(event), sort_keys=True, default=str)) + "\n")
                self.out.flush()
            elif self.mode == "tty":
                self._human(_Redacting(self.out), event)

    def _human(self, out: "_Redacting", event: Mapping[str, Any]) -> None:
        elapsed = time.monotonic() - self.start
        stamp = f"[{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}]"
        kind = event.get("event")
        if kind == "component":
            state = event.get("state", "")
            if state == "waiting":
                return
            extra = ""
            if event.get("duration"):
                extra = f" ({event['duration']:.1f} s)"
            if event.get("message") and state in ("failed", "skipped", "not-started"):
                extra += f": {event['message']}"
            out.write(f"{stamp} {_MARK.get(state, ' ')} {event.get('component')} {state}{extra}\n")
            if event.get("assumed_from_host") and state == "done":
                out.write(f"    assumed from the host: {', '.join(event['assumed_from_host'])}\n")
            if state == "failed" and event.get("log_tail"):
                out.write("    " + "\n    ".join(str(event["log_tail"]).rstrip().splitlines()) + "\n")
                out.write(f"    full log: {event.get('log')}\n")
        elif kind == "backend":
            out.write(f"{stamp} backend: {event.get('backend')} ({event.get('reason')})\n")
        elif kind == "locked":
            out.write(f"{stamp} locked {event.get('components')} components in {event.get('lock')}\n")
        elif kind == "edge-added":
            out.write(f"{stamp}   {event.get('component')} waits for {event.get('after')}: it needs "
                      f"{event.get('capability')}, which {event.get('after')} provides ({event.get('source')})\n")
        elif kind == "note":
            out.write(f"{stamp}   note: {event.get('message')}\n")
        elif kind == "published":
            out.write(f"{stamp} published {len(event.get('packages', []))} RPMs to {event.get('repo')}\n")
        out.flush()


class _Redacting:
    """Writes through :func:`streambuild.values.redact`: no user information of URLs on the terminal."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(values.redact(text))

    def flush(self) -> None:
        self.out.flush()
