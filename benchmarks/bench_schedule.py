"""Scheduling benchmark: critical-path list scheduling against its lower bound and against batches.

On subgraphs of the real Fedora graph (cycles broken against the full base), with synthetic
lognormal build times (seeded), for W = 2, 8 and 32 workers it prints

- ``list/lower_bound``: makespan of list scheduling over max(critical path, work / W)
  (DESIGN.md section 7 target: <= 1.05);
- ``batch/list``: makespan of batch-barrier scheduling (MBS, koji chain-build) over list
  scheduling (> 1 means list scheduling is ahead).

Every number is a ratio of two quantities computed in the same run; nothing is timed.
Run: ``python3 benchmarks/bench_schedule.py [--seeds N] [--sigma S]``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections import deque
from typing import Dict, List, Mapping, Sequence, Tuple

import _fedora
from streambuild.graph import build_graph
from streambuild.scheduler import lower_bound, simulate_batches, simulate_list

SIZES = (200, 1000, 5000)
WORKERS = (2, 8, 32)
TARGET = 1.05


def closure_subset(deps: Mapping[str, Sequence[str]], size: int, rng: random.Random) -> List[str]:
    """Dependency closures of random components (a component and all it needs), unioned until
    ``size`` nodes; the last closure is cut in BFS order. Realistic build sets."""
    nodes = list(deps)
    rng.shuffle(nodes)
    chosen: Dict[str, None] = {}
    for root in nodes:
        if len(chosen) >= size:
            break
        queue = deque([root])
        seen = {root}
        while queue and len(chosen) < size:
            n = queue.popleft()
            chosen.setdefault(n, None)
            for d in deps[n]:
                if d not in seen:
                    seen.add(d)
                    queue.append(d)
    return list(chosen)


def connected_subset(
    deps: Mapping[str, Sequence[str]],
    dependents: Mapping[str, Sequence[str]],
    size: int,
    rng: random.Random,
) -> List[str]:
    """A connected random subset: BFS over edges in both directions from random starts,
    taking neighbours in random order."""
    nodes = list(deps)
    rng.shuffle(nodes)
    chosen: Dict[str, None] = {}
    for start in nodes:
        if len(chosen) >= size:
            break
        if start in chosen:
            continue
        queue = deque([start])
        chosen[start] = None
        while queue and len(chosen) < size:
            n = queue.popleft()
            around = list(deps[n]) + list(dependents[n])
            rng.shuffle(around)
            for m in around:
                if m not in chosen and len(chosen) < size:
                    chosen[m] = None
                    queue.append(m)
    return list(chosen)


def induced(deps: Mapping[str, Sequence[str]], subset: Sequence[str]) -> Dict[str, Tuple[str, ...]]:
    keep = set(subset)
    return {n: tuple(d for d in deps[n] if d in keep) for n in subset}


def durations_for(nodes: Sequence[str], rng: random.Random, sigma: float) -> Dict[str, float]:
    """Lognormal build times: median 5 (minutes, say); sigma 1.2 gives a heavy tail of builds
    taking hours, as in a distribution."""
    return {n: rng.lognormvariate(math.log(5.0), sigma) for n in nodes}


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="subgraphs per size and kind (default 3)")
    parser.add_argument("--sigma", type=float, default=1.2, help="lognormal sigma of build times (default 1.2)")
    args = parser.parse_args(list(argv))

    facts = _fedora.to_facts(_fedora.read_rows(_fedora.data_path()))
    base = _fedora.full_base(facts)
    dag = build_graph(facts, base.__contains__).to_dag().dependencies
    dependents: Dict[str, List[str]] = {n: [] for n in dag}
    for n, ds in dag.items():
        for d in ds:
            dependents[d].append(n)

    print(f"{'kind':<10}{'nodes':>6}{'edges':>7}{'W':>4}  {'list/lower_bound':>16}  {'batch/list':>10}  seed")
    worst = 0.0
    batch_ratios: List[float] = []
    for kind in ("closure", "connected"):
        for size in SIZES:
            for seed in range(args.seeds):
                rng = random.Random(f"{kind}-{size}-{seed}")
                if kind == "closure":
                    subset = closure_subset(dag, size, rng)
                else:
                    subset = connected_subset(dag, dependents, size, rng)
                sub = induced(dag, subset)
                durations = durations_for(subset, rng, args.sigma)
                edges = sum(len(v) for v in sub.values())
                for workers in WORKERS:
                    listed = simulate_list(sub, durations, workers)
                    batched = simulate_batches(sub, durations, workers)
                    bound = lower_bound(sub, durations, workers)
                    ratio = listed / bound
                    worst = max(worst, ratio)
                    batch_ratios.append(batched / listed)
                    flag = "" if ratio <= TARGET else "  ABOVE TARGET"
                    print(
                        f"{kind:<10}{len(subset):>6}{edges:>7}{workers:>4}  {ratio:>16.3f}  "
                        f"{batched / listed:>10.2f}  {seed}{flag}"
                    )
    print()
    print(f"worst list/lower_bound ratio: {worst:.3f} (target <= {TARGET})")
    print(
        f"batch/list ratio: min {min(batch_ratios):.2f}, "
        f"geometric mean {math.exp(sum(map(math.log, batch_ratios)) / len(batch_ratios)):.2f}, "
        f"max {max(batch_ratios):.2f}"
    )
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
