"""Following a run from another terminal: ``stream-build watch`` and ``dnf stream-build watch``.

The journal is the only thing read: the last run's events are replayed from its
start, then new lines are followed as the running build appends them, until the
run ends. A run whose process is gone without a ``run-end`` record (killed, or the
machine went down) is reported as interrupted instead of being waited for forever.
Watching never takes the work directory's lock, so it can never keep a build from
starting.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generator, Iterator, List, Optional

from .errors import BuildFailed, InputError

@dataclass(frozen=True)
class Outcome:
    """How the watched run ended: ``ok``, ``failed`` or ``interrupted``."""

    run: str
    outcome: str

    def raise_for_outcome(self) -> None:
        if self.outcome == "failed":
            raise BuildFailed(f"run {self.run} failed")
        if self.outcome != "ok":
            raise BuildFailed(f"run {self.run} was interrupted (continue it with 'stream-build build --resume')")


def holder_alive(workdir_lock: str) -> bool:
    """Whether the process recorded in the work directory's lock file still exists."""
    try:
        with open(workdir_lock, encoding="utf-8") as handle:
            pid = int(handle.read().strip() or "0")
    except (OSError, ValueError):
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _records(handle: Any) -> Iterator[Dict[str, Any]]:
    """Complete lines appended to ``handle`` since the last call; a torn last line waits for its end."""
    while True:
        position = handle.tell()
        line = handle.readline()
        if not line:
            return
        if not line.endswith("\n"):
            handle.seek(position)
            return
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


def follow(
    journal_path: str,
    workdir_lock: str,
    poll: float = 0.2,
    alive: Callable[[str], bool] = holder_alive,
) -> Generator[Dict[str, Any], None, Outcome]:
    """Yield the events of the last run in ``journal_path`` from its start, following it until it ends.

    The generator's return value (``StopIteration.value``) is the run's :class:`Outcome`;
    use :func:`watch` to get it directly.
    """
    if not os.path.exists(journal_path):
        raise InputError(f"no run recorded in {journal_path} (start one with 'stream-build build')")
    with open(journal_path, encoding="utf-8") as handle:
        pending: List[Dict[str, Any]] = []
        run: Optional[str] = None
        for record in _records(handle):
            if record.get("event") == "run-start":
                run, pending = record.get("run"), [record]
            elif run is not None and record.get("run") == run:
                pending.append(record)
        if run is None:
            raise InputError(f"no run recorded in {journal_path} (start one with 'stream-build build')")
        for record in pending:
            yield record
            if record.get("event") == "run-end":
                return Outcome(run, str(record.get("outcome")))
        dead = False
        while True:
            fresh = list(_records(handle))
            for record in fresh:
                if record.get("event") == "run-start" and record.get("run") != run:
                    return Outcome(run, "interrupted")  # a later run started: ours is over
                if record.get("run") != run:
                    continue
                yield record
                if record.get("event") == "run-end":
                    return Outcome(run, str(record.get("outcome")))
            if dead:
                return Outcome(run, "interrupted")
            if not fresh and not alive(workdir_lock):
                dead = True  # read once more: the last lines it wrote before it exited
                continue
            time.sleep(poll)


def watch(journal_path: str, workdir_lock: str, on_event: Callable[[Dict[str, Any]], None], poll: float = 0.2) -> Outcome:
    """Call ``on_event`` for every event of the last run until it ends; return how it ended."""
    events = follow(journal_path, workdir_lock, poll)
    while True:
        try:
            on_event(next(events))
        except StopIteration as stop:
            outcome: Outcome = stop.value
            return outcome


def print_run(workdir: str, as_json: bool, say: Callable[[str], None]) -> None:
    """Follow the run in ``workdir`` until it ends, printing each event through ``say``.

    JSON lines with ``as_json``, otherwise the lines the running build's own progress shows
    (:meth:`streambuild.progress.Progress.describe`, timed from the run's start); raises as
    :meth:`Outcome.raise_for_outcome` does. Every front-end's ``watch`` is this.
    """
    from .progress import Progress

    lines = Progress("lines", ticker=False)
    started: List[float] = []

    def show(event: Dict[str, Any]) -> None:
        if as_json:
            say(json.dumps(event, sort_keys=True))
            return
        when = float(event.get("time") or 0)
        if not started:
            started.append(when)
            lines.start = when
        for line in lines.describe(event, now=when):
            say(line)

    watch(os.path.join(workdir, "journal.jsonl"), os.path.join(workdir, "lock"), show).raise_for_outcome()
