"""Batches, critical path, priorities, the ready queue and the schedule simulations."""

from __future__ import annotations

import threading
from typing import Dict, List, Tuple

import pytest

from streambuild.errors import PlanError
from streambuild.scheduler import (
    ReadyQueue,
    critical_path,
    lower_bound,
    priorities,
    simulate_batches,
    simulate_list,
    topological_batches,
)

# a -> b -> d, a -> c -> d (d needs b and c, both need a), e independent
DIAMOND: Dict[str, Tuple[str, ...]] = {"d": ("b", "c"), "b": ("a",), "c": ("a",), "a": (), "e": ()}
DURATIONS = {"a": 2.0, "b": 3.0, "c": 1.0, "d": 1.0, "e": 4.0}


def test_batches_are_levels_sorted_by_name() -> None:
    assert topological_batches(DIAMOND) == [["a", "e"], ["b", "c"], ["d"]]


def test_batches_include_nodes_named_only_as_dependencies() -> None:
    assert topological_batches({"app": ["lib", "tool"], "tool": ["lib"]}) == [["lib"], ["tool"], ["app"]]


def test_batches_of_nothing() -> None:
    assert topological_batches({}) == []


def test_cycle_is_refused() -> None:
    with pytest.raises(PlanError, match="cycle"):
        topological_batches({"a": ["b"], "b": ["a"], "c": []})
    with pytest.raises(PlanError):
        ReadyQueue({"a": ["a"]})


def test_critical_path_on_a_known_graph() -> None:
    assert critical_path(DIAMOND, DURATIONS) == (["a", "b", "d"], 6.0)
    # unit durations: the longest chain by count, ties to the first name
    assert critical_path(DIAMOND) == (["a", "b", "d"], 3.0)
    # a long independent node wins when it is longer than any chain
    assert critical_path(DIAMOND, {**DURATIONS, "e": 10.0}) == (["e"], 10.0)
    assert critical_path({}) == ([], 0.0)


def test_priorities_are_bottom_levels() -> None:
    assert priorities(DIAMOND, DURATIONS) == {"a": 6.0, "b": 4.0, "c": 2.0, "d": 1.0, "e": 4.0}
    assert priorities(DIAMOND)["a"] == 3.0


def test_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError):
        priorities({"a": []}, {"a": -1.0})


# --- ReadyQueue ------------------------------------------------------------------------------


def test_ready_queue_hands_out_by_priority_then_name() -> None:
    q = ReadyQueue(DIAMOND, priorities(DIAMOND, DURATIONS))
    assert q.pop() == "a"  # 6.0 beats e's 4.0
    assert q.pop() == "e"
    assert q.pop() is None and not q.has_ready
    assert q.running == {"a", "e"}
    assert q.done("a") == ["b", "c"]
    assert q.pop() == "b"  # 4.0 beats c's 2.0
    assert q.pop() == "c"
    q.done("b")
    assert not q.has_ready  # d still needs c
    q.done("c")
    assert q.pop() == "d"
    q.done("d")
    assert not q.finished  # e is running
    q.done("e")
    assert q.finished
    assert q.completed == set(DIAMOND)


def test_ties_go_by_name() -> None:
    q = ReadyQueue({"b": [], "a": [], "c": []})
    assert [q.pop(), q.pop(), q.pop()] == ["a", "b", "c"]


def test_failure_skips_only_dependents() -> None:
    deps = {"lib": [], "app": ["lib"], "plugin": ["app"], "other": [], "tool": ["other"], "mixed": ["lib", "other"]}
    q = ReadyQueue(deps)
    started = [q.pop(), q.pop()]
    assert sorted(started) == ["lib", "other"]
    assert q.failed("lib") == {"app", "plugin", "mixed"}
    assert q.skipped == {"app", "plugin", "mixed"}
    assert q.failures == {"lib"}
    assert not q.finished
    assert q.done("other") == ["tool"]  # mixed is skipped, not released
    assert q.pop() == "tool"
    assert q.pop() is None
    q.done("tool")
    assert q.finished
    assert q.completed == {"other", "tool"}


def test_failure_of_a_node_not_yet_started() -> None:
    q = ReadyQueue({"a": [], "b": [], "c": ["b"]})
    assert q.failed("b") == {"c"}  # e.g. its sources could not be fetched
    assert q.pop() == "a"
    assert q.pop() is None
    q.done("a")
    assert q.finished


def test_misuse_is_refused() -> None:
    q = ReadyQueue({"a": [], "b": ["a"]})
    with pytest.raises(ValueError):
        q.done("a")  # not running
    q.pop()
    q.done("a")
    with pytest.raises(ValueError):
        q.failed("a")  # already done
    with pytest.raises(KeyError):
        q.failed("nope")


def test_ready_queue_is_thread_safe() -> None:
    width, depth = 20, 30
    deps: Dict[str, List[str]] = {}
    for level in range(depth):
        for i in range(width):
            deps[f"n{level}-{i}"] = [f"n{level - 1}-{j}" for j in range(width)] if level else []
    q = ReadyQueue(deps, priorities(deps))
    built: List[str] = []
    lock = threading.Lock()
    finished_at: Dict[str, int] = {}

    def worker() -> None:
        while not q.finished:
            name = q.pop()
            if name is None:
                continue
            with lock:
                built.append(name)
                finished_at[name] = len(built)
            q.done(name)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert sorted(built) == sorted(deps)  # each exactly once
    for name, needs in deps.items():
        assert all(finished_at[d] < finished_at[name] for d in needs)


# --- simulations -----------------------------------------------------------------------------


def test_simulate_list_on_known_graphs() -> None:
    assert simulate_list(DIAMOND, DURATIONS, 1) == sum(DURATIONS.values())
    assert simulate_list(DIAMOND, DURATIONS, 2) == 6.0  # a,b,d on one worker; e then c on the other
    chain = {"a": [], "b": ["a"], "c": ["b"]}
    assert simulate_list(chain, None, 8) == 3.0
    assert simulate_list({}, None, 4) == 0.0


def test_list_scheduling_beats_batches() -> None:
    # a long chain next to many short independent builds: barriers make the chain wait
    deps: Dict[str, List[str]] = {"long1": [], "long2": ["long1"], "long3": ["long2"]}
    durations = {"long1": 10.0, "long2": 10.0, "long3": 10.0}
    for i in range(6):
        deps[f"s{i}"] = []
        deps[f"t{i}"] = [f"s{i}"]
        durations[f"s{i}"] = 1.0
        durations[f"t{i}"] = 12.0
    listed = simulate_list(deps, durations, 4)
    batched = simulate_batches(deps, durations, 4)
    bound = lower_bound(deps, durations, 4)
    assert bound <= listed <= batched
    assert listed < batched
    for workers in (1, 2, 3, 8):
        assert lower_bound(deps, durations, workers) <= simulate_list(deps, durations, workers)
        assert simulate_list(deps, durations, workers) <= simulate_batches(deps, durations, workers)


def test_simulate_batches_waits_for_each_level() -> None:
    # level 0: a(2), e(4); level 1: b(3), c(1); level 2: d(1) -> 4 + 3 + 1 with 2 workers
    assert simulate_batches(DIAMOND, DURATIONS, 2) == 8.0
    # one worker: every build in sequence
    assert simulate_batches(DIAMOND, DURATIONS, 1) == sum(DURATIONS.values())


def test_lower_bound() -> None:
    assert lower_bound(DIAMOND, DURATIONS, 1) == 11.0  # total work
    assert lower_bound(DIAMOND, DURATIONS, 4) == 6.0  # critical path
    with pytest.raises(ValueError):
        lower_bound(DIAMOND, DURATIONS, 0)
    with pytest.raises(ValueError):
        simulate_list(DIAMOND, DURATIONS, 0)
