"""When a stream asks Koji for a new repo of its tag: coalesced, bounded regenerations.

On Fedora's Koji a repo regeneration (``newRepo``) costs minutes, so it dominates a
stream's wall time. A finished component's RPMs are published into the stream repo at
once, but its dependents can only start after a regeneration of the stream tag that
began after that publication. :class:`RegenPlanner` decides when to ask for one:

- **coalescing**: components published while a regeneration is pending or running
  share the next one; at most one regeneration is in flight;
- **at most one wait**: the next regeneration is asked for as soon as the current one
  is done (or at once, when none runs), so a dependent waits for at most one
  regeneration that starts after its last dependency was published (a regeneration may
  be held back, by at most half the last one's cost, for a component others wait for that
  is expected to finish by then: one regeneration then serves both);
- **bounded**: at most the plan's depth + 1 regenerations per stream (the first repo of
  the stream tag included). A regeneration is only asked for when a component that
  still has to start needs something it would make visible, and only when the
  regenerations left after it still cover the longest chain of such needs; otherwise
  it waits for more components to finish, so that one regeneration serves them all.

Invariant behind the bound: with ``h(c)`` the number of regenerations still needed on
the longest chain of not-yet-started dependents below ``c``, ``count + max h`` never
exceeds the bound. A requested regeneration keeps it by the check above; when nothing
is building and nothing could start, the regeneration is asked for anyway, and that
keeps it too (every waiting component then sits behind a published one, so the maximum
drops by one), so the stream never stalls.

The planner is plain bookkeeping, shared by the builder plugin (:mod:`.builder`) and the
benchmark's simulation (``benchmarks/bench_koji.py``).
"""

from __future__ import annotations

from typing import Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set

from .. import scheduler

WAITING, RUNNING, PUBLISHED, VISIBLE, FAILED, SKIPPED = ("waiting", "running", "published", "visible", "failed",
                                                          "skipped")


#: Hold a regeneration back for a component expected to finish within this share of the last
#: regeneration's cost: it then shares that regeneration instead of waiting for the next.
HOLD = 0.5


def plan_depth(deps: Mapping[str, Sequence[str]]) -> int:
    """The number of levels of the plan (its batches); 0 for an empty plan."""
    return len(scheduler.topological_batches(deps)) if deps else 0


class RegenPlanner:
    """The regeneration decisions of one stream (see the module docstring)."""

    def __init__(self, deps: Mapping[str, Sequence[str]], hold: float = HOLD) -> None:
        self.deps: Dict[str, Sequence[str]] = {n: tuple(d) for n, d in deps.items()}
        self.dependents: Dict[str, List[str]] = {n: [] for n in self.deps}
        for name, needs in self.deps.items():
            for dep in needs:
                self.dependents[dep].append(name)
        self.depth = plan_depth(self.deps)
        self.bound = self.depth + 1
        self.state: Dict[str, str] = {n: WAITING for n in self.deps}
        self.count = 0  # regenerations asked for, the first repo of the stream tag included
        self.in_flight: Optional[FrozenSet[str]] = None  # what the regeneration under way will make visible
        self.hold = hold
        self.expected: Dict[str, float] = {}  # running component -> when it is expected to finish
        self.regen_cost: Optional[float] = None  # how long the last regeneration took (measured)
        self._asked_at: Optional[float] = None

    # -- what happened ------------------------------------------------------------------

    def first(self, now: Optional[float] = None) -> None:
        """The first repo of the stream tag is asked for (before anything builds)."""
        self.count += 1
        self.in_flight = frozenset()
        self._asked_at = now

    def started(self, name: str, expected_finish: Optional[float] = None) -> None:
        self.state[name] = RUNNING
        if expected_finish is not None:
            self.expected[name] = expected_finish

    def built(self, name: str) -> bool:
        """``name`` is built and published; True when nothing still to start needs it (no wait)."""
        self.state[name] = PUBLISHED
        if not self._live_dependents(name):
            self.state[name] = VISIBLE
            return True
        return False

    def failed(self, name: str, skipped: Iterable[str]) -> None:
        self.state[name] = FAILED
        for other in skipped:
            self.state[other] = SKIPPED

    def requested(self, now: Optional[float] = None) -> FrozenSet[str]:
        """A regeneration is asked for now: it will make every published component visible."""
        included = frozenset(n for n, s in self.state.items() if s == PUBLISHED)
        self.count += 1
        self.in_flight = included
        self._asked_at = now
        return included

    def done(self, now: Optional[float] = None) -> FrozenSet[str]:
        """The regeneration under way is ready: what it made visible (their dependents may start)."""
        if now is not None and self._asked_at is not None:
            self.regen_cost = max(0.0, now - self._asked_at)
        made = self.in_flight or frozenset()
        for name in made:
            if self.state[name] == PUBLISHED:
                self.state[name] = VISIBLE
        self.in_flight = None
        return made

    # -- the decision -------------------------------------------------------------------

    def wanted(self, now: Optional[float] = None) -> bool:
        """Whether to ask for a regeneration now (``now``: on the clock of the expected finishes)."""
        if self.in_flight is not None:
            return False
        published = [n for n, s in self.state.items() if s == PUBLISHED]
        if not any(self._live_dependents(n) for n in published):
            return False
        if not self._progress_possible():
            return True  # nothing else can finish first: this one regeneration serves everything published
        if self.soon(now) is not None:
            return False  # a component others need is about to finish: one regeneration for both
        heights = self._heights()
        after = max([heights[n] for n, s in self.state.items() if s in (WAITING, RUNNING)]
                    + [heights[n] - 1 for n in published] + [0])
        return self.count + 1 + after <= self.bound

    def soon(self, now: Optional[float]) -> Optional[float]:
        """When a running component that others wait for is expected to finish, if that is within
        ``hold`` times the last regeneration's cost from ``now`` (else None)."""
        if now is None or self.regen_cost is None or self.hold <= 0:
            return None
        window = now + self.hold * self.regen_cost
        times = [t for n, t in self.expected.items()
                 if self.state[n] == RUNNING and now < t <= window and self._live_dependents(n)]
        return min(times) if times else None

    def _progress_possible(self) -> bool:
        """Something is building, or could start without a new regeneration."""
        return any(s == RUNNING or (s == WAITING and all(self.state[d] == VISIBLE for d in self.deps[n]))
                   for n, s in self.state.items())

    def _live_dependents(self, name: str) -> List[str]:
        return [d for d in self.dependents[name] if self.state[d] == WAITING]

    def _heights(self) -> Dict[str, int]:
        """``h(c)``: regenerations still needed on the longest chain of waiting dependents below ``c``."""
        heights: Dict[str, int] = {}
        for level in reversed(scheduler.topological_batches(self.deps)):
            for name in level:
                live = self._live_dependents(name)
                heights[name] = 1 + max(heights[d] for d in live) if live else 0
        return heights

    @property
    def visible(self) -> Set[str]:
        return {n for n, s in self.state.items() if s == VISIBLE}


# ---------------------------------------------------------------------------
# simulation: the same decisions on a model of Koji (benchmarks, tests)
# ---------------------------------------------------------------------------

POLICIES = ("coalesced", "per-component", "per-batch")


def simulate(deps: Mapping[str, Sequence[str]], durations: Mapping[str, float],
             regen_cost: "float | Callable[[int], float]", workers: int, policy: str = "coalesced",
             trace: Optional[List["tuple[float, str, str]"]] = None,
             estimates: Optional[Mapping[str, float]] = None, hold: float = HOLD) -> "tuple[float, int]":
    """``(makespan, regenerations)`` of a stream on ``workers`` builders:

    - ``coalesced``: :class:`RegenPlanner`, as the builder plugin runs it (expecting each
      build to take its ``estimates``, default: exactly its ``durations``);
    - ``per-component``: every finished component that others need gets its own
      regeneration, started when it finishes (they may overlap);
    - ``per-batch``: the plan's batches one after the other, one regeneration between
      two batches (``koji chain-build``, MBS).

    ``regen_cost`` is the seconds a regeneration takes, or a function of its number (1 is
    the stream tag's first repo). Every policy starts with that first repo; builds start
    by critical-path priority, as the builder starts them. ``trace`` (coalesced and
    per-component) gets ``(time, event, name)``: ``start``/``built`` of components,
    ``regen-start``/``regen-end``.
    """
    import heapq

    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}")
    cost: Callable[[int], float] = regen_cost if callable(regen_cost) else (lambda _n: float(regen_cost))
    expect = estimates if estimates is not None else durations
    if policy == "per-batch":
        now, regens = 0.0, 0
        for level in scheduler.topological_batches(deps):
            regens += 1
            now += cost(regens)
            loads = [now] * workers
            for length in sorted((durations[n] for n in level), reverse=True):
                heapq.heapreplace(loads, loads[0] + length)
            now = max(loads)
        return now, regens
    queue = scheduler.ReadyQueue(deps, scheduler.priorities(deps, expect))
    planner = RegenPlanner(deps, hold if policy == "coalesced" else 0.0)
    events: List["tuple[float, int, str, str]"] = []
    seq = 0

    def push(at: float, kind: str, name: str) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, name))

    def note(at: float, event: str, name: str) -> None:
        if trace is not None:
            trace.append((at, event, name))

    planner.first(0.0)
    note(0.0, "regen-start", "1")
    push(cost(1), "regen", "1")
    regens, free, now = 1, workers, 0.0
    while events:
        now = events[0][0]
        while events and events[0][0] == now:
            _at, _seq, kind, name = heapq.heappop(events)
            if kind == "build":
                free += 1
                note(now, "built", name)
                if planner.built(name):
                    queue.done(name)
                elif policy == "per-component":
                    regens += 1
                    note(now, "regen-start", name)
                    push(now + cost(regens), "visible", name)
            elif kind == "visible":
                note(now, "regen-end", name)
                planner.state[name] = VISIBLE
                queue.done(name)
            elif kind == "regen":
                note(now, "regen-end", name)
                for made in sorted(planner.done(now)):
                    queue.done(made)
        if policy == "coalesced":
            if planner.wanted(now):
                planner.requested(now)
                regens += 1
                note(now, "regen-start", str(regens))
                push(now + cost(regens), "regen", str(regens))
            elif (wake := planner.soon(now)) is not None:
                push(wake, "tick", "")  # decide again when the expected finish has passed
        while free:
            ready = queue.pop()
            if ready is None:
                break
            planner.started(ready, now + expect[ready])
            note(now, "start", ready)
            free -= 1
            push(now + durations[ready], "build", ready)
    assert all(planner.state[n] == VISIBLE for n in deps), "the simulation stopped before the end"
    return now, regens
