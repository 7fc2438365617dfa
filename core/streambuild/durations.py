"""Expected build durations for the plan's priorities, even on a first run, and where each came from.

Critical-path priorities are only as good as the durations behind them. For each
component, the first of these that knows one:

1. ``history``: a build service's record, when the backend has one (the Koji backend
   asks the hub's ``getAverageBuildDuration`` of every package in one multicall);
2. ``results``: how long its newest build in this work directory's result store took;
3. ``size``: a guess from the size of its prepared sources (spec, patches, tarballs):
   :data:`BASE_SECONDS` plus :data:`SECONDS_PER_MB` per megabyte.

A backend offers history as ``known_durations(names) -> {name: seconds}`` (only the names
it knows). :func:`estimate` gives an :class:`Estimate` per component; the plan carries
both the seconds and the source, and shows them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Optional, Sequence

from .results import ResultStore
from .sources import PreparedSource

HISTORY, RESULTS, SIZE = "history", "results", "size"
BASE_SECONDS = 60.0
SECONDS_PER_MB = 12.0

#: ``names -> {name: seconds}`` for the names it knows (e.g. the Koji hub's history).
KnownDurations = Callable[[Sequence[str]], Mapping[str, float]]


@dataclass(frozen=True)
class Estimate:
    seconds: float
    source: str  # HISTORY, RESULTS or SIZE


def size_guess(directory: str) -> float:
    """Seconds expected for a build whose prepared sources are in ``directory``."""
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                continue
    return BASE_SECONDS + SECONDS_PER_MB * total / 1e6


def estimate(sources: Mapping[str, PreparedSource], store: Optional[ResultStore] = None,
             known: Optional[KnownDurations] = None) -> Dict[str, Estimate]:
    """An estimate for every component of ``sources`` (see the module docstring for the order)."""
    names = list(sources)
    history: Mapping[str, float] = known(names) if known is not None else {}
    stored = _stored_names(store)
    out: Dict[str, Estimate] = {}
    for name in names:
        seconds = history.get(name)
        if seconds is not None and seconds > 0:
            out[name] = Estimate(float(seconds), HISTORY)
            continue
        seconds = store.last_duration(name) if store is not None and name in stored else None
        if seconds is not None and seconds > 0:  # 0: a result brought home from elsewhere, time unknown
            out[name] = Estimate(float(seconds), RESULTS)
            continue
        known_size = sources[name].size  # counted when the sources were prepared
        out[name] = Estimate(BASE_SECONDS + SECONDS_PER_MB * known_size / 1e6 if known_size is not None
                             else size_guess(sources[name].directory), SIZE)
    return out


def _stored_names(store: Optional[ResultStore]) -> "set[str]":
    """The components with anything in ``store`` (one directory listing, not one per component)."""
    if store is None:
        return set()
    try:
        return set(os.listdir(store.root))
    except OSError:
        return set()


def summary(estimates: Mapping[str, Estimate]) -> str:
    """``2 from the build service's history, 1 from earlier builds here, 3 guessed from source size``."""
    words = {HISTORY: "from the build service's history", RESULTS: "from earlier builds here",
             SIZE: "guessed from the sources' size"}
    counts = {k: sum(1 for e in estimates.values() if e.source == k) for k in words}
    return ", ".join(f"{n} {words[k]}" for k, n in counts.items() if n) or "none"
