"""Koji: repo regenerations and makespan on real subgraphs; hub calls per component and per poll.

Two parts, every figure a ratio of quantities measured in the same run:

1. **Regenerations** (simulated, :func:`streambuild.koji.regen.simulate`, the builder
   plugin's own planner): subgraphs of the real Fedora graph (``_fedora``, cycles broken
   against the full base; closures and connected sets of 50, 200 and 1000 components),
   lognormal build times (median 5 min, sigma 1.2, seeded), every repo regeneration
   costing 2 to 7 minutes (uniform, seeded, as Fedora packagers measure them), 50
   builders. For the coalesced planner, for one regeneration per component that others
   need (started as it finishes, overlapping freely: generous to that baseline) and for
   one per batch (``koji chain-build``, MBS) it prints regenerations and makespan, and the
   ratios ours/per-component and ours/per-batch; ``noisy`` runs the planner with
   durations off by a lognormal factor (sigma 0.5), as estimates are. It checks the bound
   (regenerations <= plan depth + 1) on every set.
2. **Protocol** (``--protocol``, about 30 s): a synthetic 200-component layered stream
   built by the real client backend, hub and builder plugins against the test hub
   (tests/kojihub) in its instant mode (each build copies a prebuilt noarch RPM; newRepo
   still runs createrepo_c and mergerepo_c): client requests per component, builder
   requests per component, requests per poll (exactly 1), regenerations against the
   bound.

Run from the work tree's root: ``.venv/bin/python benchmarks/bench_koji.py [--protocol]``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _fedora  # noqa: E402
from bench_schedule import closure_subset, connected_subset, durations_for, induced  # noqa: E402
from streambuild.graph import build_graph  # noqa: E402
from streambuild.koji.regen import plan_depth, simulate  # noqa: E402

SIZES = (50, 200, 1000)
WORKERS = 50
POLL = 0.2  # the builder's poll interval in the protocol part (production: 6 s)
REGEN_MINUTES = (2.0, 7.0)


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values))


def regenerations(seeds: int) -> int:
    facts = _fedora.to_facts(_fedora.read_rows(_fedora.data_path()))
    base = _fedora.full_base(facts)
    dag = build_graph(facts, base.__contains__).to_dag().dependencies
    dependents: Dict[str, List[str]] = {n: [] for n in dag}
    for name, needs in dag.items():
        for dep in needs:
            dependents[dep].append(name)
    print(f"regenerations: {WORKERS} builders, a regeneration costs {REGEN_MINUTES[0]:.0f}-{REGEN_MINUTES[1]:.0f} "
          "min, builds lognormal (median 5 min, sigma 1.2)")
    print(f"{'kind':<10}{'nodes':>6}{'depth':>6}  {'regens ours/comp/batch':>23}  {'makespan min ours/comp/batch':>29}"
          f"  {'ours/comp':>15}  {'ours/batch':>15}  {'noisy/batch':>11}")
    ratios: Dict[str, List[float]] = {}
    over = 0
    for kind in ("closure", "connected"):
        for size in SIZES:
            for seed in range(seeds):
                rng = random.Random(f"koji-{kind}-{size}-{seed}")
                subset = (closure_subset(dag, size, rng) if kind == "closure"
                          else connected_subset(dag, dependents, size, rng))
                sub = induced(dag, subset)
                minutes = durations_for(subset, rng, 1.2)
                noisy = {n: d * rng.lognormvariate(0.0, 0.5) for n, d in minutes.items()}
                costs = [rng.uniform(*REGEN_MINUTES) for _ in range(4 * len(subset) + 8)]
                cost = costs.__getitem__  # the n-th regeneration's cost, the same in every policy
                ours = simulate(sub, minutes, cost, WORKERS)
                rough = simulate(sub, minutes, cost, WORKERS, estimates=noisy)
                comp = simulate(sub, minutes, cost, WORKERS, "per-component")
                batch = simulate(sub, minutes, cost, WORKERS, "per-batch")
                depth = plan_depth(sub)
                over += sum(1 for r in (ours[1], rough[1]) if r > depth + 1)
                for key, value in (("regens ours/comp", ours[1] / comp[1]), ("regens ours/batch", ours[1] / batch[1]),
                                   ("time ours/comp", ours[0] / comp[0]), ("time ours/batch", ours[0] / batch[0]),
                                   ("time noisy/batch", rough[0] / batch[0])):
                    ratios.setdefault(key, []).append(value)
                print(f"{kind:<10}{len(subset):>6}{depth:>6}  {ours[1]:>7}/{comp[1]:>6}/{batch[1]:>6}   "
                      f"{ours[0]:>9.0f}/{comp[0]:>7.0f}/{batch[0]:>7.0f}     "
                      f"{ours[1] / comp[1]:>5.2f} {ours[0] / comp[0]:>5.2f}    {ours[1] / batch[1]:>5.2f} "
                      f"{ours[0] / batch[0]:>5.2f}       {rough[0] / batch[0]:>5.2f}  (regens, time)")
    print()
    for key, values in ratios.items():
        print(f"{key:<20} geometric mean {geomean(values):.3f}, min {min(values):.3f}, max {max(values):.3f}")
    print(f"sets over the bound (regenerations > plan depth + 1): {over}")
    return 1 if over else 0


# ---------------------------------------------------------------------------
# protocol: hub calls against the test hub
# ---------------------------------------------------------------------------


def prebuilt(names: Sequence[str], out: Path) -> Dict[str, List[str]]:
    """One rpmbuild run making a tiny noarch RPM for every name (subpackages of one spec)."""
    lines = ["Name: benchset", "Version: 1", "Release: 1", "Summary: s", "License: MIT", "BuildArch: noarch",
             "%description", "s"]
    for name in names:
        lines += [f"%package -n {name}", f"Summary: {name}", f"%description -n {name}", name]
    lines += ["%install", "mkdir -p %{buildroot}/usr/share/bench"]
    lines += [f"touch %{{buildroot}}/usr/share/bench/{n}" for n in names]
    for name in names:
        lines += [f"%files -n {name}", f"/usr/share/bench/{name}"]
    out.mkdir(parents=True, exist_ok=True)
    spec = out / "benchset.spec"
    spec.write_text("\n".join(lines) + "\n")
    subprocess.run(["rpmbuild", "--define", f"_topdir {out / 'top'}", "--define", f"_rpmdir {out / 'rpms'}",
                    "-bb", str(spec)], check=True, capture_output=True)
    return {n: [str(out / "rpms" / "noarch" / f"{n}-1-1.noarch.rpm")] for n in names}


def synthetic_job(names: Sequence[str], deps: Dict[str, List[str]], workdir):  # type: ignore[no-untyped-def]
    from streambuild.analyse import Analysis
    from streambuild.base import parse_base
    from streambuild.build import StreamJob
    from streambuild.lock import Lock, LockedComponent
    from streambuild.manifest import Component, Manifest
    from streambuild.plan import make_plan
    from streambuild.sources import PreparedSource

    base = parse_base("fedora-44-x86_64")
    url = "git://127.0.0.1:9/rpms/"
    comps = tuple(Component(n, "release-1.0", "dist-git", url) for n in names)
    manifest = Manifest(str(workdir.path("bench.yaml")), "bench", base, comps)
    commits = {n: f"{i:040x}" for i, n in enumerate(names, start=1)}
    lock = Lock(base.name, tuple(LockedComponent(n, "dist-git", f"{url}{n}.git", "release-1.0",
                                                 "refs/heads/release-1.0", commits[n]) for n in names))
    analyses = {n: Analysis(n, "1", "1", tuple(deps[n]), (n,), (n,)) for n in names}
    plan = make_plan("bench", base.name, analyses, commits, {n: False for n in names})
    sources = {n: PreparedSource(n, workdir.root, f"{n}.spec", commits[n]) for n in names}
    return StreamJob(manifest, lock, plan, sources, {n: () for n in names}, workdir, lambda event: None)


def protocol(layers: int, width: int, seed: int) -> int:
    import kojihub
    from streambuild.koji import hubapi
    from streambuild.koji.client import KojiBackend
    from streambuild.workdir import WorkDir

    rng = random.Random(seed)
    names = [f"bench-{i:03d}" for i in range(layers * width)]
    deps: Dict[str, List[str]] = {}
    for index, name in enumerate(names):
        layer = index // width
        previous = names[(layer - 1) * width: layer * width] if layer else []
        deps[name] = sorted(rng.sample(previous, min(len(previous), rng.choice((1, 2)))))
    with tempfile.TemporaryDirectory(prefix="bench-koji-") as tmp:
        root = Path(tmp)
        start = time.monotonic()
        instant = prebuilt(names, root / "prebuilt")
        conf = root / "streambuild.conf"
        os.environ[hubapi.CONFIG_ENV] = str(conf)
        policy = "[policy]\nstream_build =\n    all :: allow\nchannel =\n    all :: use default\n"
        with kojihub.TestHub(root / "hub", hub_conf=policy, instant=instant, capacity=32) as hub:
            conf.write_text(f"[general]\nallowed_scm_hosts = 127.0.0.1:*\nallowed_schemes = git http\n"
                            f"topurl = {hub.topurl}\n[builder]\nverify_commits = no\nrepo_poll_interval = 0.05\n")
            hub.add_user("bench", "bench-pw")
            hub.add_tag("f44-build", arches="x86_64")
            hub.add_tag("f44")
            hub.add_target("f44", "f44-build", "f44")
            profile = hub.profile(root / "koji.conf", "bench", "bench-pw")
            job = synthetic_job(names, deps, WorkDir(str(root / "work")))
            backend = KojiBackend(config=str(profile), say=lambda line: None)
            t0 = time.monotonic()
            report = backend.build_stream(job)
            elapsed = time.monotonic() - t0
            assert report.ok, {n: r.message for n, r in report.results.items() if r.state != "done"}
            count = len(names)
            client, builder = hub.http_requests("bench"), hub.task_requests("streamBuild")
            polls = backend.polls
            regen = backend.regenerations or {}
            print(f"components                         {count} ({layers} layers of {width})")
            print(f"builds started                     {hub.hub.tasks_made.get('build', 0)} (one per component)")
            print(f"client requests per component      {client / count:.2f}  ({client} total: submit, {len(polls)} polls, "
                  "downloads)")
            print(f"builder requests per component     {builder / count:.2f}  ({builder} total by the streamBuild task, "
                  f"polling every {POLL} s for {elapsed:.0f} s included)")
            print(f"requests per poll                  max {max(polls)}, mean {sum(polls) / len(polls):.2f}")
            print(f"regenerations / bound              {regen.get('count')} / {regen.get('bound')} "
                  f"(plan depth {regen.get('depth')}; newRepo tasks {hub.hub.tasks_made.get('newRepo', 0)})")
            print(f"absolute seconds                   stream {elapsed:.1f}, with set-up {time.monotonic() - start:.1f}")
    return 0


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="subgraphs per size and kind (default 2)")
    parser.add_argument("--protocol", action="store_true", help="also measure hub calls against the test hub")
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--width", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(list(argv))
    status = regenerations(args.seeds)
    if args.protocol:
        print()
        status |= protocol(args.layers, args.width, args.seed)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
