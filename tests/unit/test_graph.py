"""The dependency graph: edges, soft edges, SCCs and cycle breaking, on small graphs and on Fedora."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path
from typing import Dict, Iterable, List, Sequence

import pytest

from streambuild.capabilities import provide_name
from streambuild.errors import InputError, PlanError
from streambuild.graph import ComponentFacts, DagResult, DepGraph, Edge, build_graph
from streambuild.scheduler import topological_batches

FEDORA = Path(__file__).parents[2].parent / "shared/data/fedora-rawhide-deps.jsonl.gz"


def comp(name: str, requires: Sequence[str] = (), provides: Sequence[str] = ()) -> ComponentFacts:
    """A component that provides its own name plus ``provides``."""
    return ComponentFacts(name, tuple(requires), (f"{name} = 1.0-1",) + tuple(provides))


def base_of(*capabilities: str):
    return set(capabilities).__contains__


def assert_acyclic(deps) -> None:
    batches = topological_batches(deps)  # raises PlanError on a cycle
    assert sum(len(b) for b in batches) == len(deps)


# --- edges -----------------------------------------------------------------------------------


def test_edge_from_buildrequires_to_provider() -> None:
    g = build_graph(
        [
            comp("liba", provides=["liba-devel = 1.0-1", "pkgconfig(liba) = 1.0"]),
            comp("b", ["liba-devel >= 1", "pkgconfig(liba) >= 0.9", "gcc"]),
        ]
    )
    assert g.names == ("liba", "b")
    assert g.edges["b"] == {"liba": Edge("b", "liba", ("liba-devel", "pkgconfig(liba)"), False)}
    assert g.edges["liba"] == {}
    assert g.dependencies("b") == ("liba",)
    assert g.dependents("liba") == ("b",)
    assert g.dependents("b") == ()
    assert g.edge_count == 1


def test_rich_dependency_makes_an_edge_to_every_operand_provider() -> None:
    g = build_graph(
        [
            comp("x"),
            comp("y"),
            comp("cond"),
            comp("b", ["(x >= 1 or y)"]),
            comp("c", ["(x if cond)"]),
        ]
    )
    assert set(g.dependencies("b")) == {"x", "y"}
    assert set(g.dependencies("c")) == {"x", "cond"}
    assert g.edges["b"]["y"].capabilities == ("y",)


def test_own_provides_never_make_a_self_edge_and_every_provider_counts() -> None:
    g = build_graph(
        [
            comp("gcc", ["gcc", "glibc-devel"]),
            comp("glibc", provides=["glibc-devel = 2.40"]),
            comp("glibc-compat", provides=["glibc-devel = 2.39"]),
        ]
    )
    assert g.dependencies("gcc") == ("glibc", "glibc-compat")
    assert "gcc" not in g.edges["gcc"]
    assert g.sccs() == ()


def test_unknown_and_macro_names_make_no_edges() -> None:
    g = build_graph([comp("a"), comp("b", ["python%{python3_pkgversion}-a", "not-there"])])
    assert g.edge_count == 0


def test_duplicate_component_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="'a' appears twice"):
        build_graph([comp("a"), comp("a")])


def test_dependents_and_dependencies_are_in_input_order() -> None:
    g = build_graph([comp("z"), comp("m", ["z"]), comp("a", ["z"]), comp("q", ["a", "z"])])
    assert g.dependents("z") == ("m", "a", "q")
    assert g.dependencies("q") == ("z", "a")
    with pytest.raises(KeyError):
        g.dependents("nope")


# --- soft edges ------------------------------------------------------------------------------


def test_edge_is_soft_when_the_base_satisfies_the_buildrequires() -> None:
    facts = [comp("liba", provides=["liba-devel = 2"]), comp("b", ["liba-devel >= 2"])]
    assert not build_graph(facts).edges["b"]["liba"].soft
    assert build_graph(facts, base_of("liba-devel")).edges["b"]["liba"].soft


def test_rich_alternative_in_the_base_makes_the_edge_soft() -> None:
    facts = [comp("x"), comp("b", ["(x or y)"])]
    assert build_graph(facts, base_of("y")).edges["b"]["x"].soft
    assert not build_graph(facts, base_of("z")).edges["b"]["x"].soft
    # "with" needs both names: the base providing one of them is not enough
    facts = [comp("x"), comp("c", ["(x with x-static)"])]
    assert not build_graph(facts, base_of("x")).edges["c"]["x"].soft
    assert build_graph(facts, base_of("x", "x-static")).edges["c"]["x"].soft


def test_edge_is_hard_if_any_of_its_buildrequires_needs_the_set() -> None:
    facts = [comp("liba", provides=["liba-devel", "liba-static"]), comp("b", ["liba-devel", "liba-static"])]
    edge = build_graph(facts, base_of("liba-devel")).edges["b"]["liba"]
    assert edge.capabilities == ("liba-devel", "liba-static")
    assert not edge.soft


# --- SCCs ------------------------------------------------------------------------------------


def test_sccs_find_cycles_and_self_loops() -> None:
    g = build_graph(
        [
            comp("a", ["b"]),
            comp("b", ["c"]),
            comp("c", ["a"]),
            comp("d", ["a"]),
            comp("e", ["f"]),
            comp("f", ["e"]),
        ]
    )
    assert set(g.sccs()) == {("a", "b", "c"), ("e", "f")}
    loop = DepGraph(["s", "t"], {"s": {"s": Edge("s", "s", ("s",), False)}})
    assert loop.sccs() == (("s",),)


def test_sccs_are_iterative_on_a_long_cycle() -> None:
    n = 5000  # far past Python's recursion limit
    facts = [comp(f"p{i}", [f"p{(i + 1) % n}"]) for i in range(n)]
    g = build_graph(facts)
    (only,) = g.sccs()
    assert len(only) == n
    with pytest.raises(PlanError) as caught:
        g.to_dag()
    message = str(caught.value)
    assert message.startswith(f"cycle the base cannot break: p0 -> p{n - 1} (needs p0) -> p{n - 2} (needs p{n - 1})")
    assert message.endswith("-> p0 (needs p1)")
    assert message.count(" -> ") == n


def test_sccs_come_dependencies_first() -> None:
    g = build_graph([comp("top1", ["top2", "low1"]), comp("top2", ["top1"]), comp("low1", ["low2"]), comp("low2", ["low1"])])
    assert g.sccs() == (("low1", "low2"), ("top1", "top2"))


# --- breaking cycles -------------------------------------------------------------------------


def test_soft_edge_breaks_a_cycle() -> None:
    # glibc needs gcc (hard: the base has no gcc); gcc needs glibc-devel, which the base has
    facts = [comp("gcc", ["glibc-devel"]), comp("glibc", ["gcc"], provides=["glibc-devel = 2"]), comp("app", ["gcc"])]
    dag = build_graph(facts, base_of("glibc-devel")).to_dag()
    assert isinstance(dag, DagResult)
    assert dict(dag.dependencies) == {"gcc": (), "glibc": ("gcc",), "app": ("gcc",)}
    assert dag.broken == (Edge("gcc", "glibc", ("glibc-devel",), True),)
    assert_acyclic(dag.dependencies)


def test_soft_edges_outside_cycles_are_kept() -> None:
    facts = [comp("liba"), comp("b", ["liba"])]
    g = build_graph(facts, base_of("liba"))
    assert g.edges["b"]["liba"].soft
    dag = g.to_dag()
    assert dag.dependencies["b"] == ("liba",)
    assert dag.broken == ()


def test_all_soft_edges_of_a_cycle_are_dropped_and_restore_soft_keeps_a_feedback_set() -> None:
    facts = [comp("a", ["b"]), comp("b", ["c"]), comp("c", ["a"]), comp("d", ["a"])]
    g = build_graph(facts, base_of("a", "b", "c"))
    dag = g.to_dag()
    assert {(e.dependent, e.dependency) for e in dag.broken} == {("a", "b"), ("b", "c"), ("c", "a")}
    assert dict(dag.dependencies) == {"a": (), "b": (), "c": (), "d": ("a",)}

    lean = g.to_dag(restore_soft=True)
    assert len(lean.broken) == 1  # one edge is enough to open a 3-cycle
    assert sum(len(v) for v in lean.dependencies.values()) == 3
    assert_acyclic(lean.dependencies)


def test_hard_cycle_is_a_plan_error_naming_the_path() -> None:
    facts = [
        comp("a", ["y"], provides=["liba-devel"]),
        comp("b", ["liba-devel"], provides=["x"]),
        comp("c", ["x"], provides=["y"]),
    ]
    with pytest.raises(PlanError) as caught:
        build_graph(facts).to_dag()
    message = str(caught.value)
    assert message == (
        "cycle the base cannot break: a -> b (needs liba-devel) -> c (needs x) -> a (needs y)"
    )
    assert isinstance(caught.value, InputError)
    assert caught.value.exit_code == 2


def test_plan_error_reports_a_shortest_cycle() -> None:
    # a 4-cycle a->b->c->d->a and, inside the same SCC, a 2-cycle c<->d
    facts = [comp("a", ["b"]), comp("b", ["c"]), comp("c", ["d"]), comp("d", ["a", "c"])]
    with pytest.raises(PlanError) as caught:
        build_graph(facts).to_dag()
    assert str(caught.value) == "cycle the base cannot break: c -> d (needs c) -> c (needs d)"


def test_cycle_left_after_dropping_soft_edges_is_reported() -> None:
    # a<->b is hard; b->c->b has a soft edge; only the hard cycle is reported
    facts = [comp("a", ["b"]), comp("b", ["a", "c"]), comp("c", ["b"])]
    with pytest.raises(PlanError) as caught:
        build_graph(facts, base_of("c")).to_dag()
    assert str(caught.value) == "cycle the base cannot break: a -> b (needs a) -> a (needs b)"


def test_values_are_frozen() -> None:
    edge = Edge("a", "b", ("x",), False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        edge.soft = True  # type: ignore[misc]
    dag = build_graph([comp("a"), comp("b", ["a"])]).to_dag()
    with pytest.raises(dataclasses.FrozenInstanceError):
        dag.broken = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        dag.dependencies["a"] = ("b",)  # type: ignore[index]


# --- the real Fedora graph -------------------------------------------------------------------


def load_fedora() -> List[ComponentFacts]:
    if not FEDORA.is_file():
        pytest.skip(f"Fedora data not found at {FEDORA}")
    with gzip.open(FEDORA, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [ComponentFacts(r["name"], tuple(r["buildrequires"]), tuple(r["provides"])) for r in rows]


@pytest.fixture(scope="module")
def fedora() -> List[ComponentFacts]:
    return load_fedora()


def all_provides(facts: Iterable[ComponentFacts]) -> Dict[str, bool]:
    return {provide_name(p): True for f in facts for p in f.provides}


def test_fedora_graph_breaks_with_the_full_base(fedora: List[ComponentFacts]) -> None:
    base = all_provides(fedora)
    g = build_graph(fedora, base.__contains__)
    assert len(g.names) > 19000
    assert g.edge_count > 70_000
    sccs = g.sccs()
    assert max(len(c) for c in sccs) > 800
    dag = g.to_dag()
    assert set(dag.dependencies) == set(g.names)
    assert dag.broken and all(e.soft for e in dag.broken)
    in_cycles = {n for c in sccs for n in c}
    assert all(e.dependent in in_cycles and e.dependency in in_cycles for e in dag.broken)
    assert_acyclic(dag.dependencies)


def test_fedora_graph_without_a_base_is_a_plan_error(fedora: List[ComponentFacts]) -> None:
    g = build_graph(fedora)
    with pytest.raises(PlanError) as caught:
        g.to_dag()
    lines = str(caught.value).splitlines()
    assert len(lines) == len(g.sccs())  # one path for each cycle, none breakable
    for line in lines:
        assert line.startswith("cycle the base cannot break: ")
        path = line[len("cycle the base cannot break: "):].split(" -> ")
        assert len(path) >= 3 and "(needs " in line
        assert path[-1].split(" (needs ")[0] == path[0]  # it closes where it started
