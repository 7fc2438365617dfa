"""Ordering a DAG of builds: batches, critical path, and the runtime ready queue.

Every function takes ``deps``: a mapping from a node to the nodes it needs (its dependencies),
as :attr:`streambuild.graph.DagResult.dependencies` gives it. A node named only as a
dependency counts as a node without dependencies. ``durations`` maps nodes to their expected
build times; a missing node (or ``durations=None``) counts 1.0.

Scheduling is list scheduling with critical-path priority: whenever a worker is free it takes
the ready node with the longest remaining path to the end of the build ("bottom level").
:func:`simulate_batches` models the batch-barrier alternative (MBS, ``koji chain-build``) for
comparison.
"""

from __future__ import annotations

import heapq
import threading
from typing import (
    Dict,
    FrozenSet,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from .errors import PlanError

__all__ = [
    "Dag",
    "topological_batches",
    "critical_path",
    "priorities",
    "ReadyQueue",
    "simulate_list",
    "simulate_fifo",
    "simulate_batches",
    "lower_bound",
]

Deps = Union[Mapping[str, Sequence[str]], "_Dag"]  # a mapping of dependencies, or the graph built once


class _Dag:
    """``deps`` normalised: every node, its dependencies and dependents, and a topological order.

    Every function here takes one in place of ``deps`` (as :data:`Dag`), so that a caller asking
    several of them about one graph builds it once.
    """

    __slots__ = ("nodes", "deps", "dependents", "order")

    def __init__(self, deps: Mapping[str, Sequence[str]]) -> None:
        nodes: List[str] = list(deps)
        known = set(nodes)
        clean: Dict[str, Tuple[str, ...]] = {}
        for n in list(nodes):
            own: List[str] = []
            seen: Set[str] = set()
            for d in deps[n]:
                if d not in seen:
                    seen.add(d)
                    own.append(d)
                if d not in known:
                    known.add(d)
                    nodes.append(d)
            clean[n] = tuple(own)
        for n in nodes:
            clean.setdefault(n, ())
        dependents: Dict[str, List[str]] = {n: [] for n in nodes}
        for n in nodes:
            for d in clean[n]:
                dependents[d].append(n)
        self.nodes: List[str] = nodes
        self.deps: Dict[str, Tuple[str, ...]] = clean
        self.dependents: Dict[str, List[str]] = dependents
        self.order: List[List[str]] = self._levels()

    def _levels(self) -> List[List[str]]:
        waiting = {n: len(self.deps[n]) for n in self.nodes}
        level = sorted(n for n, k in waiting.items() if k == 0)
        levels: List[List[str]] = []
        placed = 0
        while level:
            levels.append(level)
            placed += len(level)
            following: List[str] = []
            for n in level:
                for m in self.dependents[n]:
                    waiting[m] -= 1
                    if waiting[m] == 0:
                        following.append(m)
            level = sorted(following)
        if placed != len(self.nodes):
            stuck = sorted(n for n, k in waiting.items() if k > 0)
            shown = ", ".join(stuck[:10]) + (f" and {len(stuck) - 10} more" if len(stuck) > 10 else "")
            raise PlanError(f"the dependencies have a cycle; cannot order: {shown}")
        return levels


#: The graph built once, for callers that ask several questions of it.
Dag = _Dag


def _dag(deps: Deps) -> _Dag:
    return deps if isinstance(deps, _Dag) else _Dag(deps)


def _duration(durations: Optional[Mapping[str, float]], node: str) -> float:
    if durations is None:
        return 1.0
    value = float(durations.get(node, 1.0))
    if value < 0:
        raise ValueError(f"negative duration for {node!r}: {value}")
    return value


def topological_batches(deps: Deps) -> List[List[str]]:
    """The nodes in levels: each level needs only earlier levels; names sorted within a level.

    Level 0 holds the nodes without dependencies; a node sits one level after its latest
    dependency. A cycle is a :class:`PlanError`.
    """
    return [list(level) for level in _dag(deps).order]


def critical_path(
    deps: Deps, durations: Optional[Mapping[str, float]] = None
) -> Tuple[List[str], float]:
    """The longest weighted path, from the first node to build to the last, and its length.

    Ties go to the alphabetically first node, so the answer is deterministic. An empty graph
    gives ``([], 0.0)``.
    """
    dag = _dag(deps)
    finish: Dict[str, float] = {}
    via: Dict[str, Optional[str]] = {}
    for level in dag.order:
        for n in level:
            best: Optional[str] = None
            best_finish = 0.0
            for d in dag.deps[n]:
                f = finish[d]
                if best is None or f > best_finish or (f == best_finish and d < best):
                    best, best_finish = d, f
            finish[n] = best_finish + _duration(durations, n)
            via[n] = best
    if not finish:
        return [], 0.0
    last = min(finish, key=lambda n: (-finish[n], n))
    path: List[str] = []
    cursor: Optional[str] = last
    while cursor is not None:
        path.append(cursor)
        cursor = via[cursor]
    path.reverse()
    return path, finish[last]


def priorities(deps: Deps, durations: Optional[Mapping[str, float]] = None) -> Dict[str, float]:
    """Each node's bottom level: its duration plus the longest path through its dependents.

    This is the critical-path priority of list scheduling: the node whose remaining chain is
    longest should start first.
    """
    dag = _dag(deps)
    bottom: Dict[str, float] = {}
    for level in reversed(dag.order):
        for n in level:
            tail = 0.0
            for m in dag.dependents[n]:
                if bottom[m] > tail:
                    tail = bottom[m]
            bottom[n] = _duration(durations, n) + tail
    return bottom


class ReadyQueue:
    """The runtime scheduler of a build: which node may start now.

    A node is *waiting* until all its dependencies are done, then *ready*; :meth:`pop` hands out
    the ready node with the highest priority (ties by name) and marks it *running*; the
    executor reports :meth:`done` or :meth:`failed`. A failure *skips* every transitive
    dependent, while independent nodes go on. All methods are thread-safe.
    """

    def __init__(self, deps: Deps, priorities: Optional[Mapping[str, float]] = None) -> None:
        dag = _dag(deps)  # refuses cycles: a node in a cycle would wait forever
        self._lock = threading.Lock()
        self._dependents: Dict[str, List[str]] = {n: list(m) for n, m in dag.dependents.items()}  # wait_for adds
        self._priority: Dict[str, float] = {
            n: float(priorities.get(n, 0.0)) if priorities is not None else 0.0 for n in dag.nodes
        }
        self._missing: Dict[str, int] = {n: len(dag.deps[n]) for n in dag.nodes}
        self._waiting: Set[str] = {n for n, k in self._missing.items() if k > 0}
        self._ready: Set[str] = {n for n, k in self._missing.items() if k == 0}
        self._heap: List[Tuple[float, str]] = [(-self._priority[n], n) for n in self._ready]
        heapq.heapify(self._heap)
        self._running: Set[str] = set()
        self._done: Set[str] = set()
        self._failed: Set[str] = set()
        self._skipped: Set[str] = set()

    def pop(self) -> Optional[str]:
        """The ready node with the highest priority (ties by name), now running; ``None`` if none."""
        with self._lock:
            while self._heap:
                _, name = heapq.heappop(self._heap)
                if name in self._ready:  # else: failed while ready (lazy removal)
                    self._ready.discard(name)
                    self._running.add(name)
                    return name
            return None

    def done(self, name: str) -> List[str]:
        """Record a running node as built; returns the nodes that became ready (sorted)."""
        with self._lock:
            if name not in self._running:
                raise ValueError(f"{name!r} is not running")
            self._running.discard(name)
            self._done.add(name)
            released: List[str] = []
            for m in self._dependents[name]:
                if m in self._skipped:
                    continue
                self._missing[m] -= 1
                if self._missing[m] == 0:
                    self._waiting.discard(m)
                    self._ready.add(m)
                    heapq.heappush(self._heap, (-self._priority[m], m))
                    released.append(m)
            released.sort()
            return released

    def wait_for(self, name: str, dependencies: Sequence[str]) -> bool:
        """Give a node handed out by :meth:`pop` dependencies learned late; return whether it must wait.

        The node goes back to waiting until every one of them is done (each must be a node of
        the graph that is not already failed or skipped); dependencies done already only count
        as edges. A node that would wait for itself, directly or not, is a :class:`PlanError`.
        """
        with self._lock:
            if name not in self._running:
                raise ValueError(f"{name!r} is not running")
            pending = []
            for dependency in dependencies:
                if dependency not in self._missing or dependency == name:
                    raise KeyError(dependency)
                if dependency in self._failed or dependency in self._skipped:
                    raise ValueError(f"{dependency!r} has failed")
                if self._reaches(dependency, name):
                    raise PlanError(f"{name} cannot wait for {dependency}, which needs {name}")
                if name not in self._dependents[dependency]:
                    self._dependents[dependency].append(name)
                    if dependency not in self._done:
                        pending.append(dependency)
            if not pending:
                return False
            self._running.discard(name)
            self._missing[name] += len(pending)
            self._waiting.add(name)
            return True

    def _reaches(self, start: str, target: str) -> bool:
        """Whether ``start`` needs ``target``, directly or not (the dependents graph walked backwards)."""
        # dependents: d -> nodes that need d; so ``start`` needs ``target`` when start is reachable from target.
        stack, seen = [target], {target}
        while stack:
            node = stack.pop()
            for m in self._dependents[node]:
                if m == start:
                    return True
                if m not in seen:
                    seen.add(m)
                    stack.append(m)
        return False

    def failed(self, name: str) -> Set[str]:
        """Record a node as failed (running, ready or waiting); skip and return its transitive dependents."""
        with self._lock:
            if name in self._done or name in self._failed or name in self._skipped:
                raise ValueError(f"{name!r} has already finished")
            if name not in self._missing:
                raise KeyError(name)
            self._running.discard(name)
            self._ready.discard(name)
            self._waiting.discard(name)
            self._failed.add(name)
            skipped: Set[str] = set()
            stack = list(self._dependents[name])
            while stack:
                m = stack.pop()
                if m in skipped or m in self._skipped or m in self._failed:
                    continue
                skipped.add(m)
                self._waiting.discard(m)
                self._ready.discard(m)
                stack.extend(self._dependents[m])
            self._skipped |= skipped
            return skipped

    @property
    def finished(self) -> bool:
        """Nothing is ready, running or waiting."""
        with self._lock:
            return not (self._ready or self._running or self._waiting)

    @property
    def has_ready(self) -> bool:
        """Whether :meth:`pop` would return a node."""
        with self._lock:
            return bool(self._ready)

    @property
    def running(self) -> FrozenSet[str]:
        """The nodes handed out and not yet reported (a snapshot)."""
        with self._lock:
            return frozenset(self._running)

    @property
    def completed(self) -> FrozenSet[str]:
        """The nodes reported done (a snapshot)."""
        with self._lock:
            return frozenset(self._done)

    @property
    def failures(self) -> FrozenSet[str]:
        """The nodes reported failed (a snapshot)."""
        with self._lock:
            return frozenset(self._failed)

    @property
    def skipped(self) -> FrozenSet[str]:
        """The nodes skipped because something they need failed (a snapshot)."""
        with self._lock:
            return frozenset(self._skipped)


def _check_workers(workers: int) -> None:
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")


def simulate_list(deps: Deps, durations: Optional[Mapping[str, float]], workers: int,
                  priority: Optional[Mapping[str, float]] = None) -> float:
    """Makespan of critical-path list scheduling on ``workers`` identical workers.

    An event simulation driving a :class:`ReadyQueue` exactly as the executor does: whenever a
    worker is free it takes the highest-priority ready node. The priorities are ``priority``
    when given (what the executor knew before the builds: a first run's estimates), else
    the bottom levels of the real ``durations``.
    """
    _check_workers(workers)
    dag = _dag(deps)
    queue = ReadyQueue(dag, priority if priority is not None else priorities(dag, durations))
    now = 0.0
    events: List[Tuple[float, str]] = []
    free = workers
    while True:
        while free and queue.has_ready:
            name = queue.pop()
            assert name is not None
            heapq.heappush(events, (now + _duration(durations, name), name))
            free -= 1
        if not events:
            break
        now, name = heapq.heappop(events)
        queue.done(name)
        free += 1
        while events and events[0][0] == now:  # free every worker that ends now before choosing
            queue.done(heapq.heappop(events)[1])
            free += 1
    return now


def simulate_fifo(deps: Deps, durations: Optional[Mapping[str, float]], workers: int) -> float:
    """Makespan of first-come, first-served: a free worker takes the node that became ready first
    (ties in input order), whatever lies behind it. The plain alternative to priorities."""
    _check_workers(workers)
    dag = _dag(deps)
    rank = {n: i for i, n in enumerate(dag.nodes)}
    missing = {n: len(dag.deps[n]) for n in dag.nodes}
    ready: List[Tuple[float, int, str]] = [(0.0, rank[n], n) for n in dag.nodes if missing[n] == 0]
    heapq.heapify(ready)
    events: List[Tuple[float, str]] = []
    now, free = 0.0, workers
    while True:
        while free and ready:
            _, _, name = heapq.heappop(ready)
            heapq.heappush(events, (now + _duration(durations, name), name))
            free -= 1
        if not events:
            return now
        now, name = heapq.heappop(events)
        finished = [name]
        while events and events[0][0] == now:
            finished.append(heapq.heappop(events)[1])
        free += len(finished)
        for done in finished:
            for m in dag.dependents[done]:
                missing[m] -= 1
                if missing[m] == 0:
                    heapq.heappush(ready, (now, rank[m], m))


def simulate_batches(deps: Deps, durations: Optional[Mapping[str, float]], workers: int) -> float:
    """Makespan when each topological batch must finish before the next starts.

    This is how MBS and ``koji chain-build`` run a set. Within a batch the builds are given
    to workers longest first (LPT), which is generous to this baseline.
    """
    _check_workers(workers)
    total = 0.0
    for batch in _dag(deps).order:
        times = sorted((_duration(durations, n) for n in batch), reverse=True)
        if len(times) <= workers:
            total += times[0] if times else 0.0
            continue
        loads = [0.0] * workers
        for t in times:
            heapq.heapreplace(loads, loads[0] + t)
        total += max(loads)
    return total


def lower_bound(deps: Deps, durations: Optional[Mapping[str, float]], workers: int) -> float:
    """No schedule beats ``max(critical path length, total work / workers)``."""
    _check_workers(workers)
    dag = _dag(deps)
    work = sum(_duration(durations, n) for n in dag.nodes)
    return max(critical_path(dag, durations)[1], work / workers)
