"""Planning benchmark: the whole real Fedora graph (about 20,000 components).

Measures, in one run, with the data's own provides as the base (so soft edges break cycles):

- ``json-load``: reading and decoding the JSON-lines file — the baseline, the least any plan
  from stored analysis facts must pay;
- ``cold plan``: ``build_graph`` + ``to_dag`` from already-parsed facts, with the dependency
  string caches of :mod:`streambuild.capabilities` emptied first;
- ``re-plan``: the same again with nothing changed, in the same process (caches warm).

It prints the ratios ``plan/json-load`` and ``replan/cold`` (the targets are relative: see
benchmarks/README.md), and the absolute seconds as a secondary line. Each figure is the median
of ``--repeat`` runs. Run: ``python3 benchmarks/bench_plan.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Callable, List, Sequence, TypeVar

import _fedora
from streambuild.capabilities import capability_names, parse_dependency
from streambuild.graph import DagResult, build_graph

T = TypeVar("T")


def timed(fn: Callable[[], T], repeat: int, before: Callable[[], None] = lambda: None) -> "tuple[float, T]":
    """Median wall time of ``repeat`` calls of ``fn`` (``before`` runs untimed before each)."""
    times: List[float] = []
    result = None
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result  # type: ignore[return-value]


def clear_caches() -> None:
    capability_names.cache_clear()
    parse_dependency.cache_clear()


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median; default 3)")
    args = parser.parse_args(list(argv))
    path = _fedora.data_path()

    t_json, rows = timed(lambda: _fedora.read_rows(path), args.repeat)
    facts = _fedora.to_facts(rows)
    base = _fedora.full_base(facts)

    def plan() -> DagResult:
        return build_graph(facts, base.__contains__).to_dag()

    t_cold, dag = timed(plan, args.repeat, before=clear_caches)
    t_replan, again = timed(plan, args.repeat)
    assert dict(again.dependencies) == dict(dag.dependencies), "a re-plan changed the plan"

    graph = build_graph(facts, base.__contains__)
    t_graph, _ = timed(lambda: build_graph(facts, base.__contains__), args.repeat, before=clear_caches)
    t_dag, _ = timed(graph.to_dag, args.repeat)

    sccs = graph.sccs()
    lean = graph.to_dag(restore_soft=True)
    print(f"components: {len(graph)}, edges: {graph.edge_count}, cycles: {len(sccs)} "
          f"(largest {max(map(len, sccs))}, {sum(map(len, sccs))} components in cycles)")
    print(f"soft edges broken: {len(dag.broken)} (with restore_soft: {len(lean.broken)})")
    print(f"plan/json-load ratio: {t_cold / t_json:.2f}")
    print(f"replan/cold ratio: {t_replan / t_cold:.2f}")
    print(f"  build_graph/json-load {t_graph / t_json:.2f}, to_dag/json-load {t_dag / t_json:.2f}")
    print(f"absolute seconds: json-load {t_json:.3f}, cold plan {t_cold:.3f}, re-plan {t_replan:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
