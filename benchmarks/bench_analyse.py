"""Analysing real Fedora specs: the parse rate on all of Rawhide, and a cold plan against rpmspec alone.

Uses the shared snapshot of every Rawhide spec (``../shared/data/fedora-rawhide-specs.tar.xz``,
23,184 specs, August 2026; ``STREAMBUILD_SPECS`` overrides the path), extracted into a
temporary directory. In one run:

* ``parse rate``: the share of all specs (or ``--rate-sample N``) that stream-build's analysis
  parses on this host (sandboxed workers, rpm's Python bindings, stand-ins for the Fedora macros
  the host lacks), and the share of those marked approximate; the reasons of the rest, counted;
* ``analyse/rpmspec``: ``analyse_all`` on ``--sample`` specs (default 300, every k-th spec) ÷ the
  two ``rpmspec -q`` calls per spec that the analysis replaced, run bare with the same number of
  workers (``--workers``, default 2), on the specs both can parse;
* ``cold plan/rpmspec``: ``stream-build plan`` through :class:`streambuild.stream.Stream` (lock
  over git, read each dist-git repository's tree, analyse, plan) of the same specs, each in
  its own ``file://`` dist-git repository, in a fresh work directory ÷ the same rpmspec baseline
  (target ≤ 1.0, at worst 1.2);
* ``cold plan over git:///rpmspec``: the same with the repositories served by ``git daemon`` on
  loopback, so that every one is listed and fetched (into a shallow mirror of its own).

Ratios are what to compare across machines; seconds are printed as a secondary line.
Run from the work tree's root: ``.venv/bin/python benchmarks/bench_analyse.py [--rate-sample N]``.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "core"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _gitrepo import write_repo  # noqa: E402

from streambuild.analyse import SpecJob, analyse_all, define_args, parse_specs  # noqa: E402
from streambuild.base import parse_base  # noqa: E402
from streambuild.errors import AnalysisError  # noqa: E402
from streambuild.plugins import make_plugins  # noqa: E402
from streambuild.stream import Stream  # noqa: E402

SNAPSHOT = ROOT.parent / "shared" / "data" / "fedora-rawhide-specs.tar.xz"
BASE = parse_base("fedora-44-x86_64")
MACROS = tuple(sorted(BASE.macros().items()))


def extract(directory: Path) -> List[Path]:
    path = Path(os.environ.get("STREAMBUILD_SPECS", str(SNAPSHOT)))
    if not path.is_file():
        sys.exit(f"spec snapshot not found: {path} (set STREAMBUILD_SPECS)")
    with tarfile.open(path) as tar:
        tar.extractall(directory, members=[m for m in tar.getmembers() if m.isfile() and m.name.endswith(".spec")])
    return sorted((directory / "specs").glob("*.spec"))


def jobs_for(specs: Sequence[Path]) -> List[SpecJob]:
    return [SpecJob(p.stem, str(p), MACROS, "bench", BASE.analysis_fallback()) for p in specs]


def rpmspec_baseline(jobs: Sequence[SpecJob], workers: int) -> float:
    """The two rpmspec queries per spec that the analysis replaced, bare, ``workers`` at a time."""
    def one(job: SpecJob) -> None:
        for query in (["--srpm", "--qf", "S %{NAME}\\t%{VERSION}\\t%{RELEASE}\\n[R %{REQUIRENEVRS}\\n]"],
                      ["--builtrpms", "--qf", "P %{NAME}\\n[V %{PROVIDENEVRS}\\n]"]):
            subprocess.run(["rpmspec", *define_args(job.macros), "-q", *query, "--", job.spec_path],
                           capture_output=True, cwd=os.path.dirname(job.spec_path))

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, jobs))
    return time.perf_counter() - start


def distgit(specs: Sequence[Path], root: Path) -> Path:
    """One bare dist-git repository per spec, branch ``rawhide``; returns the repositories' directory."""
    repos = root / "rpms"
    for spec in specs:
        write_repo(repos / f"{spec.stem}.git", "rawhide", {spec.name: spec.read_bytes()})
    return repos


def cold_plan(url: str, names: Sequence[str], where: Path) -> float:
    """Seconds of a first ``Stream.plan()`` of ``names`` from the dist-git at ``url``, in a fresh work directory."""
    manifest = where / "stream-build.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(f"base: fedora-44-x86_64\nbuild:\n- type: dist-git\n  url: {url}\n"
                        "  packages:\n" + "".join(f"  - {n}:rawhide\n" for n in names))
    stream = Stream(str(manifest), plugins=make_plugins(load_entry_points=False))
    start = time.perf_counter()
    try:
        with stream.workdir:
            stream.plan()
    except Exception as exc:  # a cycle the base cannot break in a sample: still a cold plan's cost
        print(f"  (the plan ended with: {type(exc).__name__}: {str(exc)[:120]})")
    return time.perf_counter() - start


class GitDaemon:
    """``git daemon`` serving ``base`` on a free loopback port (git://), for the fetching path."""

    def __init__(self, base: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}",
                                      "--listen=127.0.0.1", f"--port={self.port}", str(base)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        self.url = f"git://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=300, help="specs in the timed comparison (default 300)")
    parser.add_argument("--rate-sample", type=int, default=0, help="parse rate on every k-th spec, N of them (0: all)")
    parser.add_argument("--workers", type=int, default=2, help="parallel parsers on both sides (default 2)")
    args = parser.parse_args(list(argv))
    with tempfile.TemporaryDirectory(prefix="bench-analyse-") as tmp:
        specs = extract(Path(tmp))
        rated = specs if not args.rate_sample else specs[::max(1, len(specs) // args.rate_sample)][:args.rate_sample]
        start = time.perf_counter()
        answers = parse_specs(jobs_for(rated), workers=args.workers)
        t_rate = time.perf_counter() - start
        ok = [a for a in answers.values() if a.get("ok")]
        approximate = sum(1 for a in ok if a.get("approximate"))
        print(f"parse rate: {len(ok)} of {len(answers)} specs = {100 * len(ok) / len(answers):.2f} % "
              f"({approximate} of them approximate: {100 * approximate / max(1, len(ok)):.1f} %)")
        reasons = collections.Counter(re.sub(r"line \d+", "line N", re.sub(r"/\S+", "PATH", a["error"]))[:90]
                                      for a in answers.values() if not a.get("ok"))
        for reason, count in reasons.most_common(8):
            print(f"  {count:5d}  {reason}")

        sample = specs[::max(1, len(specs) // args.sample)][:args.sample]
        both = [j for j in jobs_for(sample) if answers.get(j.name, {}).get("ok")]
        t_rpmspec = rpmspec_baseline(both, args.workers)
        start = time.perf_counter()
        try:
            analyse_all(both, workers=args.workers)
        except AnalysisError:
            pass
        t_analyse = time.perf_counter() - start

        repos = distgit([Path(j.spec_path) for j in both], Path(tmp) / "forge")
        names = [j.name for j in both]
        t_plan = cold_plan(f"file://{repos}/", names, Path(tmp) / "local")
        daemon = GitDaemon(repos)
        try:
            t_remote = cold_plan(daemon.url, names, Path(tmp) / "remote")
        finally:
            daemon.stop()
    print(f"analyse/rpmspec ratio: {t_analyse / t_rpmspec:.2f}  ({len(both)} specs, {args.workers} workers)")
    print(f"cold plan/rpmspec ratio: {t_plan / t_rpmspec:.2f}   (local dist-git, file://; target <= 1.0, 1.2 at worst)")
    print(f"cold plan over git:///rpmspec ratio: {t_remote / t_rpmspec:.2f}   (the same repositories served by git "
          "daemon: each fetched into a shallow mirror)")
    print(f"absolute seconds: parse rate run {t_rate:.1f}, rpmspec {t_rpmspec:.1f}, analyse {t_analyse:.1f}, "
          f"cold plan {t_plan:.1f}, over git:// {t_remote:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
