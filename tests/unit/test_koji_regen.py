"""When the builder asks Koji for a new repo of the stream tag: coalesced, at most one wait, at most depth + 1."""

from __future__ import annotations

import random
from typing import Dict, List, Tuple

import pytest

from streambuild.koji.regen import RegenPlanner, plan_depth, simulate

CHAIN = {"a": (), "b": ("a",), "c": ("b",)}


def test_a_chain_needs_one_regeneration_per_level():
    planner = RegenPlanner(CHAIN)
    assert (planner.depth, planner.bound) == (3, 4)
    planner.first()
    assert planner.done() == frozenset() and planner.count == 1
    planner.started("a")
    assert not planner.wanted()  # nothing published yet
    assert planner.built("a") is False  # b waits for it
    assert planner.wanted()
    assert planner.requested() == {"a"}
    assert not planner.wanted()  # one at a time
    assert planner.done() == {"a"}
    planner.started("b")
    planner.built("b")
    planner.requested()
    planner.done()
    planner.started("c")
    assert planner.built("c") is True  # nothing needs c: no regeneration
    assert not planner.wanted() and planner.count == 3


def test_what_finishes_during_a_regeneration_shares_the_next():
    deps = {"a1": (), "a2": (), "a3": (), "b1": ("a1",), "b2": ("a2",), "b3": ("a3",)}
    planner = RegenPlanner(deps)
    planner.first()
    planner.done()
    for name in ("a1", "a2", "a3"):
        planner.started(name)
    planner.built("a1")
    assert planner.wanted()  # at once: b1 should not wait for a2 and a3
    assert planner.requested() == {"a1"}
    planner.built("a2")
    planner.built("a3")
    assert not planner.wanted()  # a regeneration is under way
    assert planner.done() == {"a1"}
    assert planner.wanted() and planner.requested() == {"a2", "a3"}  # one more for both
    assert planner.count == 3 <= planner.bound


def test_the_bound_holds_back_a_regeneration_rather_than_exceed_it():
    # a1 is quick, a2 slow: regenerating for a1 at once, then for a2, then for b1... would exceed 2 + 1
    deps = {"a1": (), "a2": (), "b1": ("a1",), "b2": ("a2",), "c1": ("b1",), "c2": ("b2",)}
    planner = RegenPlanner(deps)
    planner.first()
    planner.done()
    planner.started("a1")
    planner.started("a2")
    planner.built("a1")
    assert planner.wanted()  # 1 + 1 + (a2's chain: 2) = 4 = the bound
    planner.requested()
    planner.done()
    planner.started("b1")
    planner.built("a2")
    planner.built("b1")
    assert planner.wanted() and planner.requested() == {"a2", "b1"}  # one for both levels' stragglers


def test_failed_components_need_no_regeneration():
    planner = RegenPlanner(CHAIN)
    planner.first()
    planner.done()
    planner.started("a")
    planner.failed("a", ["b", "c"])
    assert not planner.wanted()


def random_graph(seed: int) -> Tuple[Dict[str, List[str]], Dict[str, float]]:
    rng = random.Random(seed)
    names = [f"c{i}" for i in range(rng.randint(1, 40))]
    deps = {n: sorted(rng.sample(names[:i], rng.randint(0, min(3, i)))) for i, n in enumerate(names)}
    return deps, {n: rng.choice((1, 5, 30, 200)) * rng.random() + 0.1 for n in names}


@pytest.mark.parametrize("seed", range(60))
def test_bound_and_at_most_one_wait_on_random_graphs(seed):
    deps, durations = random_graph(seed)
    noisy = {n: d * random.Random(seed).lognormvariate(0, 0.7) for n, d in durations.items()}
    for cost in (0.5, 20.0):
        for workers, estimates in ((1, None), (4, noisy), (100, None), (100, noisy)):
            trace: List[Tuple[float, str, str]] = []
            _makespan, regens = simulate(deps, durations, cost, workers, trace=trace, estimates=estimates)
            assert regens <= plan_depth(deps) + 1
            if workers < len(deps):
                continue  # a dependent may also wait for a free builder: the next check is about repos only
            built = {n: t for t, e, n in trace if e == "built"}
            started = {n: t for t, e, n in trace if e == "start"}
            spans = [(t, next(u for u, f, m in trace if f == "regen-end" and m == n))
                     for t, e, n in trace if e == "regen-start"]
            for name, needs in deps.items():
                if not needs:
                    continue
                ready = max(built[d] for d in needs)
                # regenerations that began after its last dependency was built and ended before it started
                waited = [s for s in spans if s[0] >= ready and s[1] <= started[name]]
                assert len(waited) <= 1, (name, waited)


def test_coalescing_against_both_baselines():
    """Fewer regenerations than one per component, and sooner done than batch by batch (on the whole)."""
    ours_time = batch_time = 0.0
    ours_regens = component_regens = 0
    for seed in range(30):
        deps, durations = random_graph(seed)
        ours = simulate(deps, durations, 30.0, 50)
        per_component = simulate(deps, durations, 30.0, 50, "per-component")
        per_batch = simulate(deps, durations, 30.0, 50, "per-batch")
        assert ours[1] <= per_batch[1] + 1 and ours[1] <= per_component[1]
        ours_time, batch_time = ours_time + ours[0], batch_time + per_batch[0]
        ours_regens, component_regens = ours_regens + ours[1], component_regens + per_component[1]
    assert ours_time < batch_time
    assert ours_regens < component_regens


def test_a_regeneration_waits_for_a_component_about_to_finish():
    deps = {"a1": (), "a2": (), "b1": ("a1",), "b2": ("a2",)}
    planner = RegenPlanner(deps, hold=0.5)
    planner.first(0.0)
    planner.done(100.0)  # a regeneration costs 100 s here
    planner.started("a1", expected_finish=110.0)
    planner.started("a2", expected_finish=140.0)
    planner.built("a1")
    assert not planner.wanted(110.0) and planner.soon(110.0) == 140.0  # a2 is due within half a regeneration
    assert planner.wanted(141.0)  # late: no more waiting for it
    planner.started("a2", expected_finish=500.0)
    assert planner.wanted(110.0)  # due much later: a1's dependents go first
