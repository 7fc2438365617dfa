"""Analysis overhead over rpm's spec parser, and a no-change re-plan against a cold plan.

Builds a synthetic stream of N components from the real Fedora data: the transitive
build-dependency closure of a seeded random component, each made into a dist-git repo
(``file://``) whose spec carries the component's real BuildRequires and provide names.
Then, in the same run:

* ``analyse/parser``: ``analyse_all`` on every spec ÷ the same two ``rpmspec`` queries per
  spec run bare with the same parallelism (target ≤ 1.2);
* ``replan/cold``: ``Stream.plan()`` with nothing changed ÷ the first ``Stream.plan()``
  (lock over git, fetch, export, analyse, plan) in a fresh work directory; the re-plan's
  absolute time is printed too (target < 2 s).

Needs git and rpmspec (scripts/setup.sh installs them). Run from the work tree's root:
``.venv/bin/python benchmarks/bench_replan.py [--size 150]``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

from _fedora import data_path, read_rows

from streambuild.analyse import SpecJob, analyse_all, define_args
from streambuild.base import parse_base
from streambuild.capabilities import capability_names, provide_name
from streambuild.plugins import make_plugins
from streambuild.stream import Stream

_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+()/:-]*\Z")
GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.invalid",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.invalid")


def closure(rows: List[dict], size: int, seed: int) -> List[dict]:
    """Components reached from random roots through BuildRequires, until ``size`` are collected."""
    by_cap: Dict[str, List[str]] = {}
    for row in rows:
        for prov in row["provides"]:
            by_cap.setdefault(provide_name(prov), []).append(row["name"])
    by_name = {r["name"]: r for r in rows}
    rng = random.Random(seed)
    chosen: Dict[str, None] = {}
    while len(chosen) < size:
        stack = [rng.choice(rows)["name"]]
        while stack and len(chosen) < size:
            name = stack.pop()
            if name in chosen or not _PLAIN.match(name):
                continue
            chosen[name] = None
            for br in by_name[name]["buildrequires"]:
                for cap in capability_names(br):
                    stack.extend(by_cap.get(cap, [])[:1])
    return [by_name[n] for n in chosen]


def spec_text(row: dict) -> str:
    version = re.sub(r"[^A-Za-z0-9._+~^]", "_", row.get("version") or "1") or "1"
    lines = [f"Name: {row['name']}", f"Version: {version}", "Release: 1%{?dist}", "Summary: s", "License: MIT"]
    lines += [f"BuildRequires: {c}" for br in row["buildrequires"] for c in capability_names(br) if _PLAIN.match(c)]
    provides = sorted({provide_name(p) for p in row["provides"]} - {row["name"]})
    lines += [f"Provides: {p}" for p in provides if _PLAIN.match(p)]
    lines += ["%description", "d", "%files", "%changelog", ""]
    return "\n".join(lines)


def make_repos(root: Path, rows: List[dict]) -> None:
    for row in rows:
        work = root / "work" / row["name"]
        work.mkdir(parents=True)
        (work / f"{row['name']}.spec").write_text(spec_text(row))
        for args in (["init", "-q", "-b", "release-1"], ["add", "-A"], ["commit", "-q", "-m", "s"]):
            subprocess.run(["git", *args], cwd=work, env=GIT_ENV, check=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(root / "rpms" / f"{row['name']}.git")],
                       check=True, env=GIT_ENV)


def base_repo(root: Path, rows: List[dict]) -> Path:
    """Repository metadata of the whole Fedora data as the base (only what cycle breaking reads)."""
    from xml.sax.saxutils import quoteattr

    repo = root / "base"
    (repo / "repodata").mkdir(parents=True)
    parts = ['<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm">']
    for row in rows:
        entries = "".join(f"<rpm:entry name={quoteattr(provide_name(p))}/>" for p in row["provides"])
        parts.append(f"<package type=\"rpm\"><name>{row['name']}</name><format><rpm:provides>{entries}"
                     "</rpm:provides></format></package>")
    parts.append("</metadata>")
    import gzip

    (repo / "repodata" / "primary.xml.gz").write_bytes(gzip.compress("".join(parts).encode()))
    (repo / "repodata" / "repomd.xml").write_text(
        '<repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="primary">'
        '<location href="repodata/primary.xml.gz"/></data></repomd>')
    return repo


def bare_parser(jobs: List[SpecJob], workers: int) -> float:
    """The spec parser alone: the same two rpmspec queries per spec, same parallelism."""
    def one(job: SpecJob) -> None:
        for query in (["--srpm", "--qf", "S %{NAME}\\t%{VERSION}\\t%{RELEASE}\\n[R %{REQUIRENEVRS}\\n]"],
                      ["--builtrpms", "--qf", "P %{NAME}\\n[V %{PROVIDENEVRS}\\n]"]):
            subprocess.run(["rpmspec", *define_args(job.macros), "-q", *query, "--", job.spec_path],
                           capture_output=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, jobs))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    everything = read_rows(data_path())
    rows = closure(everything, args.size, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_repos(root, rows)
        manifest = root / "stream-build.yaml"
        manifest.write_text(f"base: fedora-44-x86_64\nbase_repos: ['file://{base_repo(root, everything)}']\n"
                            "build:\n- type: dist-git\n"
                            f"  url: file://{root}/rpms/\n  packages:\n"
                            + "".join(f"  - {r['name']}:release-1\n" for r in rows))
        stream = Stream(str(manifest), plugins=make_plugins(load_entry_points=False))
        with stream.workdir:
            start = time.perf_counter()
            cold = stream.plan()
            t_cold = time.perf_counter() - start
            start = time.perf_counter()
            stream.plan()
            t_warm = time.perf_counter() - start

        macros = tuple(sorted(parse_base("fedora-44-x86_64").macros().items()))
        jobs = [SpecJob(n, s.spec_path, macros, s.digest + "-bench") for n, s in cold.sources.items()]
        workers = max(2, os.cpu_count() or 2)
        t_parser = bare_parser(jobs, workers)
        start = time.perf_counter()
        analyse_all(jobs, cache=None, workers=workers)
        t_analyse = time.perf_counter() - start

    print(f"components: {len(rows)}, edges: {sum(len(c.after) for c in cold.plan.components)}, "
          f"batches: {len(cold.plan.batches)}, cycle edges built against the base: {len(cold.plan.broken)}")
    print(f"analyse/parser ratio: {t_analyse / t_parser:.2f}   (target <= 1.2)")
    print(f"replan/cold ratio: {t_warm / t_cold:.3f}   (no-change re-plan: {t_warm:.2f} s, target < 2 s)")
    print(f"absolute seconds: parser {t_parser:.2f}, analyse {t_analyse:.2f}, cold plan {t_cold:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
