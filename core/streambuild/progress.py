"""Progress and warnings, as a plugin on ``streambuild_event``: the same for every front-end.

Modes (:meth:`Progress.for_terminal` picks one):

``live``
    standard error is a terminal: a line per step (the sources fetched, the specs analysed,
    each component building with its log, done with its time, failed with the log's tail,
    the repository published, the install) and, below them, a status line redrawn every
    second with the phase and its elapsed time (``building tinytorch 00:42, tinyllm 00:07``);
    not while installing, which asks its question on the terminal.
``lines``
    ``-v`` without a terminal: the same lines, no status line.
``json``
    ``--json``: every event as one JSON line on standard output, for scripts.
``quiet``
    no terminal (or ``-q``): nothing while working; the command prints its result.

Warnings (:meth:`streambuild.stream.Stream.warn`: a moved lock, a policy rule that warns,
a plan note) are shown in every mode, on standard error, as ``stream-build: warning: …``.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from typing import IO, Any, Callable, Dict, List, Mapping, Optional

from . import render, values
from .plugins import hookimpl

_MARK = {"building": "…", "done": "✓", "cached": "=", "failed": "✗", "skipped": "-", "not-started": "-"}
_PHASE_WORDS = {"fetch": "fetching sources", "analyse": "analysing specs", "build": "building",
                "publish": "publishing the stream repository", "install": "installing"}
TICK = 1.0  # seconds between redraws of the status line
#: Phases with a status line; an install asks its question and DNF prints its own lines: none there.
STATUS_PHASES = ("fetch", "analyse", "build", "publish")


def clock_text(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class Progress:
    """The reporter every front-end registers (``shows_warnings``: :meth:`Stream.warn` leaves warnings to it)."""

    shows_warnings = True

    def __init__(self, mode: str, stream: Optional[IO[str]] = None, errors: Optional[IO[str]] = None,
                 clock: Callable[[], float] = time.monotonic, ticker: bool = True) -> None:
        """``mode`` is ``live``, ``lines``, ``json`` or ``quiet`` (``tty`` is ``live``)."""
        self.mode = "live" if mode == "tty" else mode
        self.out = stream or (sys.stdout if self.mode == "json" else sys.stderr)
        self.err = errors or (self.out if self.mode != "json" else sys.stderr)
        self.clock = clock
        self.start = clock()
        self._lock = threading.RLock()
        self._phase: Optional[str] = None
        self._phase_start = self.start
        self._counts: Dict[str, int] = {}
        self._building: Dict[str, float] = {}
        self._status_shown = False
        self._ticker = ticker and self.mode == "live"
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()

    @classmethod
    def for_terminal(cls, json_output: bool = False, verbose: bool = False, quiet: bool = False,
                     errors: Optional[IO[str]] = None) -> "Progress":
        err = errors or sys.stderr
        if json_output:
            return cls("json", sys.stdout, err)
        if quiet:
            return cls("quiet", err, err)
        tty = getattr(err, "isatty", lambda: False)()
        return cls("live" if tty else ("lines" if verbose else "quiet"), err, err)

    # -- the hook ----------------------------------------------------------------

    @hookimpl
    def streambuild_event(self, event: Mapping[str, Any]) -> None:
        with self._lock:
            if event.get("event") == "warning":
                self._clear_status()
                self.err.write(render.warning_line(str(event.get("message", ""))) + "\n")
                self.err.flush()
                self._draw_status()
            if self.mode == "json":
                self.out.write(values.redact(json.dumps(dict(event), sort_keys=True, default=str)) + "\n")
                self.out.flush()
            elif self.mode in ("live", "lines"):
                self._track(event)
                lines = self.describe(event)
                if lines:
                    self._clear_status()
                    for line in lines:
                        self.out.write(values.redact(line) + "\n")
                self._draw_status()
                self.out.flush()
                if self._ticker and self._thread is None and self._phase is not None:
                    self._thread = threading.Thread(target=self._tick, name="stream-build-progress", daemon=True)
                    self._thread.start()

    def close(self) -> None:
        """Stop the status line (the command is about to print its result)."""
        self._stop.set()
        with self._lock:
            self._phase = None
            self._clear_status()
            self.out.flush()

    # -- what is going on ------------------------------------------------------------

    def _track(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == "phase":
            if event.get("state") == "end":
                if self._phase == event.get("phase"):
                    self._phase = None
            else:
                self._phase, self._phase_start = str(event.get("phase")), self.clock()
                self._counts = {"total": int(event.get("components") or 0), "done": 0}
        elif kind == "fetched":
            self._counts["done"] = self._counts.get("done", 0) + 1
        elif kind == "component":
            name, state = str(event.get("component")), event.get("state")
            if state == "building":
                self._building[name] = self.clock()
            else:
                self._building.pop(name, None)
        elif kind == "run-end":
            self._phase = None
            self._building.clear()
            self._stop.set()

    def status(self) -> str:
        """The status line: the phase, how far it is and how long it has run."""
        if self._phase not in STATUS_PHASES:
            return ""
        now = self.clock()
        if self._phase == "build" and self._building:
            running = ", ".join(f"{n} {clock_text(now - t)}" for n, t in sorted(self._building.items(), key=lambda i: i[1]))
            return f"[{clock_text(now - self.start)}] building {running}"
        words = _PHASE_WORDS.get(self._phase, self._phase)
        count = f" {self._counts.get('done', 0)}/{self._counts['total']}" if self._phase == "fetch" and self._counts.get("total") else ""
        return f"[{clock_text(now - self.start)}] {words}{count} ({clock_text(now - self._phase_start)})"

    def _draw_status(self) -> None:
        if self.mode != "live":
            return
        text = self.status()
        if not text:
            return
        width = shutil.get_terminal_size((100, 24)).columns - 1
        self.out.write("\r\x1b[K" + values.redact(text)[:width])
        self._status_shown = True

    def _clear_status(self) -> None:
        if self._status_shown:
            self.out.write("\r\x1b[K")
            self._status_shown = False

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            with self._lock:
                self._clear_status()
                self._draw_status()
                self.out.flush()

    # -- the lines -------------------------------------------------------------------

    def describe(self, event: Mapping[str, Any], now: Optional[float] = None) -> List[str]:
        """The permanent lines for one event (empty for events a person need not see); ``now``: when it
        happened on :attr:`clock`'s scale (``watch`` replays the journal's times)."""
        stamp = f"[{clock_text((self.clock() if now is None else now) - self.start)}]"
        kind = event.get("event")
        if kind == "run-start":
            return [f"{stamp} run {event.get('run')} started ({event.get('command')}, backend {event.get('backend')})"]
        if kind == "run-end":
            return [f"{stamp} run {event.get('run')} ended: {event.get('outcome')}"]
        if kind == "phase":
            if event.get("state") == "end":
                return []
            count = event.get("components")
            what = {"fetch": f"fetching the sources of {count} components", "analyse": f"analysing {count} specs",
                    "publish": "publishing the stream repository",
                    "install": f"installing {', '.join(event.get('packages') or ())}"
                               + (f" into {event['installroot']}" if event.get("installroot") not in (None, "/") else "")}
            return [f"{stamp} {what[event['phase']]}"] if event.get("phase") in what else []
        if kind == "component":
            return self._component(stamp, event)
        if kind == "build-log":
            return [f"    log: {event.get('log')}"]
        if kind == "backend":
            return [f"{stamp} backend: {event.get('backend')} ({event.get('reason')})"]
        if kind == "locked":
            return [f"{stamp} locked {event.get('components')} components in {event.get('lock')}"]
        if kind == "edge-added":
            return [f"{stamp}   {event.get('component')} waits for {event.get('after')}: it needs "
                    f"{event.get('capability')}, which {event.get('after')} provides ({event.get('source')})"]
        if kind == "note":
            return [f"{stamp}   note: {event.get('message')}"]
        if kind == "published":
            return [f"{stamp} published {len(event.get('packages', []))} RPMs to {event.get('repo')}"]
        if kind == "installed":
            return [f"{stamp} installed {len(event.get('packages') or [])} packages"]
        return []

    def _component(self, stamp: str, event: Mapping[str, Any]) -> List[str]:
        state = str(event.get("state", ""))
        if state == "waiting":
            return []
        extra = f" ({float(event['duration']):.1f} s)" if event.get("duration") else ""
        if event.get("message") and state in ("failed", "skipped", "not-started"):
            extra += f": {event['message']}"
        lines = [f"{stamp} {_MARK.get(state, ' ')} {event.get('component')} {render.shown(state)}{extra}"]
        if event.get("assumed_from_host") and state == "done":
            lines.append(f"    assumed from the host: {', '.join(event['assumed_from_host'])}")
        if state == "failed" and event.get("log_tail"):
            lines += ["    " + line for line in str(event["log_tail"]).rstrip().splitlines()]
        if state == "failed" and event.get("log"):
            lines.append(f"    full log: {event.get('log')}")
        return lines
