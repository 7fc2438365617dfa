"""Koji: hub calls per component and per poll for a synthetic 200-component stream.

Runs the real client backend (``KojiBackend.build_stream``), the real hub and builder
plugins, against the test hub (tests/kojihub, a documented double) in its "instant"
mode: each scratch build copies a prebuilt noarch RPM instead of running rpmbuild, so
the measurement is of the protocol, not of compilers. The stream is a layered DAG
(``--layers`` × ``--width``, each component needing one or two of the layer before).

Prints, from the hub's own per-user counts of HTTP requests:

- client requests per component (submit, polls, downloads): bounded, O(1) per component;
- builder requests per component (subtasks, waits, outputs, uploads, repo requests);
- requests per poll (every poll is one multicall): exactly 1.

Run from the work tree's root (about 30 s): ``.venv/bin/python benchmarks/bench_koji.py``
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import kojihub  # noqa: E402  (the test hub package)
from streambuild.analyse import Analysis  # noqa: E402
from streambuild.base import parse_base  # noqa: E402
from streambuild.build import StreamJob  # noqa: E402
from streambuild.koji import hubapi  # noqa: E402
from streambuild.koji.client import KojiBackend  # noqa: E402
from streambuild.lock import Lock, LockedComponent  # noqa: E402
from streambuild.manifest import Component, Manifest  # noqa: E402
from streambuild.plan import make_plan  # noqa: E402
from streambuild.sources import PreparedSource  # noqa: E402
from streambuild.workdir import WorkDir  # noqa: E402


def prebuilt(names, out: Path) -> dict:
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


def synthetic_job(names, deps, workdir: WorkDir) -> StreamJob:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--width", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    names = [f"bench-{i:03d}" for i in range(args.layers * args.width)]
    deps = {}
    for index, name in enumerate(names):
        layer = index // args.width
        previous = names[(layer - 1) * args.width: layer * args.width] if layer else []
        deps[name] = sorted(rng.sample(previous, min(len(previous), rng.choice((1, 2)))))
    with tempfile.TemporaryDirectory(prefix="bench-koji-") as tmp:
        root = Path(tmp)
        start = time.monotonic()
        instant = prebuilt(names, root / "prebuilt")
        conf = root / "streambuild.conf"
        os.environ[hubapi.CONFIG_ENV] = str(conf)
        policy = "[policy]\nstream_build =\n    all :: allow\nchannel =\n    all :: use default\n"
        with kojihub.TestHub(root / "hub", hub_conf=policy, instant=instant, capacity=32) as hub:
            conf.write_text(f"[general]\nallowed_scm_hosts = 127.0.0.1:*\ntopurl = {hub.topurl}\n"
                            "[builder]\nverify_commits = no\nrepo_poll_interval = 0.05\n")
            hub.add_user("bench", "bench-pw")
            hub.add_tag("f44-build")
            hub.add_tag("f44")
            hub.add_target("f44", "f44-build", "f44")
            profile = hub.profile(root / "koji.conf", "bench", "bench-pw")
            job = synthetic_job(names, deps, WorkDir(str(root / "work")))
            backend = KojiBackend(config=str(profile), say=lambda line: None)
            t0 = time.monotonic()
            report = backend.build_stream(job)
            elapsed = time.monotonic() - t0
            assert report.ok, {n: r.message for n, r in report.results.items() if r.state != "done"}
            n = len(names)
            client, builder = hub.http_requests("bench"), hub.http_requests("builder-1")
            polls = backend.polls
            print(f"components                         {n}")
            print(f"builds started                     {hub.hub.tasks_made.get('build', 0)} (one per component)")
            print(f"client requests per component      {client / n:.2f}  ({client} total: submit, {len(polls)} polls, downloads)")
            print(f"builder requests per component     {builder / n:.2f}  ({builder} total)")
            print(f"requests per poll                  max {max(polls)}, mean {sum(polls) / len(polls):.2f}")
            print(f"absolute seconds                   stream {elapsed:.1f}, with set-up {time.monotonic() - start:.1f}")


if __name__ == "__main__":
    main()
