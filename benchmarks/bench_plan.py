"""Planning benchmark: ``make_plan`` on the whole real Fedora graph (about 20,000 components).

Each package of the data becomes what analysis gives the planner (an :class:`Analysis` with the
package's BuildRequires and one binary package carrying its Provides), and the base is a
:class:`BaseProvides` of the whole data, its packages providing the same names in any version
(so predictions from base metadata run, and soft edges break the cycles, the 855-package
toolchain knot included). Measured in one run:

- ``json-load``: reading and decoding the JSON-lines file — the baseline, the least any plan
  from stored analysis facts must pay;
- ``cold plan``: :func:`streambuild.plan.make_plan` itself (predictions, the graph, cycles
  broken, batches, the critical path, the plan's indexes), with every dependency-string cache
  emptied first, as in a fresh process;
- ``re-plan``: the same again with nothing changed, in the same process (caches warm);
- ``closures``: ``Plan.closure`` of every component, as the executor asks for them during a
  build (each once; their sizes summed), with ``Plan.component`` of every name.

It prints ``plan/json-load``, ``replan/cold`` and ``closures/json-load``, then the absolute
seconds. Each figure is the median of ``--repeat`` runs. Run:
``.venv/bin/python benchmarks/bench_plan.py [--repeat N]`` (rpm's Python bindings compare versions).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Callable, Dict, List, Sequence, TypeVar

import _fedora
from streambuild import providers
from streambuild.analyse import Analysis, BinaryPackage
from streambuild.baserepo import BasePackage, BaseProvides
from streambuild.capabilities import capability_names, parse_dependency, provide_name
from streambuild.plan import Plan, make_plan

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
    providers._CAPABILITY_CACHE.clear()
    if hasattr(provide_name, "cache_clear"):
        provide_name.cache_clear()


def analyses_of(rows: List[dict]) -> Dict[str, Analysis]:
    return {
        r["name"]: Analysis(r["name"], r.get("version") or "1", "1", tuple(r["buildrequires"]),
                            (BinaryPackage(r["name"], tuple(r["provides"])),))
        for r in rows
    }


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median; default 3)")
    args = parser.parse_args(list(argv))
    path = _fedora.data_path()

    t_json, rows = timed(lambda: _fedora.read_rows(path), args.repeat)
    analyses = analyses_of(rows)
    # the base's packages provide the names only (any version), as bench_replan's base repository does
    base = BaseProvides(BasePackage(r["name"], f"{r.get('version') or '1'}-1", "x86_64", f"{r['name']}.src.rpm",
                                    tuple(dict.fromkeys(provide_name(p) for p in r["provides"]))) for r in rows)
    commits = {n: "0" * 40 for n in analyses}
    buildonly = {n: False for n in analyses}
    durations = {n: 60.0 for n in analyses}
    sources = {n: "size" for n in analyses}

    def plan() -> Plan:
        return make_plan("fedora", "fedora-44-x86_64", analyses, commits, buildonly, base, durations, sources)

    t_cold, cold = timed(plan, args.repeat, before=clear_caches)
    t_replan, again = timed(plan, args.repeat)
    assert again.dependencies == cold.dependencies, "a re-plan changed the plan"

    def closures() -> int:
        fresh = plan()  # a plan as the executor gets it: nothing asked of it yet
        start = time.perf_counter()
        total = 0
        for comp in fresh.components:
            total += len(fresh.closure(fresh.component(comp.name).name))
        closures.seconds = time.perf_counter() - start  # type: ignore[attr-defined]
        return total

    runs = []
    for _ in range(args.repeat):
        total = closures()
        runs.append(closures.seconds)  # type: ignore[attr-defined]
    t_closures = statistics.median(runs)

    print(f"components: {len(cold.components)}, edges: {len(cold.edges)}, batches: {len(cold.batches)}, "
          f"cycle edges built against the base: {len(cold.broken)}, closure sizes summed: {total}")
    print(f"plan/json-load ratio: {t_cold / t_json:.2f}")
    print(f"replan/cold ratio: {t_replan / t_cold:.2f}")
    print(f"closures/json-load ratio: {t_closures / t_json:.2f}")
    print(f"absolute seconds: json-load {t_json:.3f}, cold plan {t_cold:.3f}, re-plan {t_replan:.3f}, "
          f"closures {t_closures:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
