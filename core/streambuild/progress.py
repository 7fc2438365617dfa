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
                self.out.write(json.dumps(dict(event), sort_keys=True, default=str) + "\n")
                self.out.flush()
            elif self.mode == "tty":
                self._human(event)

    def _human(self, event: Mapping[str, Any]) -> None:
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
            self.out.write(f"{stamp} {_MARK.get(state, ' ')} {event.get('component')} {state}{extra}\n")
            if event.get("assumed_from_host") and state == "done":
                self.out.write(f"    assumed from the host: {', '.join(event['assumed_from_host'])}\n")
            if state == "failed" and event.get("log_tail"):
                self.out.write("    " + "\n    ".join(str(event["log_tail"]).rstrip().splitlines()) + "\n")
                self.out.write(f"    full log: {event.get('log')}\n")
        elif kind == "backend":
            self.out.write(f"{stamp} backend: {event.get('backend')} ({event.get('reason')})\n")
        elif kind == "locked":
            self.out.write(f"{stamp} locked {event.get('components')} components in {event.get('lock')}\n")
        elif kind == "published":
            self.out.write(f"{stamp} published {len(event.get('packages', []))} RPMs to {event.get('repo')}\n")
        self.out.flush()
