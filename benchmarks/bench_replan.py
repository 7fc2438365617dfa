"""A no-change re-plan through the CLI at 1,000, 5,000 and 20,000 components, against a cold one.

For each size, a synthetic stream is made from the real Fedora data: the build-dependency
closure of seeded random components (all 19,733 packages for 20,000), each a dist-git
repository (``file://``) whose spec carries the package's real BuildRequires and provide
names, with a base repository (metadata only) of the whole data so that cycles can be broken
against it. Then the real ``stream-build`` command is run in a fresh process each time:

* ``validate``: ``stream-build validate`` of the same manifest (start-up and reading the
  manifest: the least any command on this stream costs) — the baseline;
* ``cold``: the first ``stream-build plan`` (lock over git, prepare the sources, analyse every
  spec, plan) in a fresh work directory;
* ``re-plan``: ``stream-build plan`` again with nothing changed (median of ``--repeat``),
  target under 2 s at 20,000 components (DESIGN.md section 7).

It prints, per size, ``replan/validate`` and ``replan/cold`` and the seconds, then
``replan growth``: the re-plan's time beyond ``validate``'s per component at the largest size
over that at the smallest (1 is linear; above 1, bookkeeping that grows faster than the set). Needs git and
rpm's Python bindings (``scripts/setup.sh``). Run from the work tree's root:
``.venv/bin/python benchmarks/bench_replan.py [--sizes 1000,5000,20000] [--repeat 3]``.
About 5 minutes, 2 of them the 20,000-component cold plan.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence
from xml.sax.saxutils import quoteattr

from _fedora import ROOT, data_path, read_rows
from _gitrepo import write_repo

from streambuild.capabilities import capability_names, provide_name

_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+()/:-]*\Z")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*\Z")


def closure(rows: List[dict], size: int, seed: int) -> List[dict]:
    """Components reached from random roots through BuildRequires, until ``size`` are collected."""
    by_cap: Dict[str, List[str]] = {}
    for row in rows:
        for prov in row["provides"]:
            by_cap.setdefault(provide_name(prov), []).append(row["name"])
    by_name = {r["name"]: r for r in rows if _NAME.match(r["name"])}
    size = min(size, len(by_name))
    rng = random.Random(seed)
    names = list(by_name)
    chosen: Dict[str, None] = {}
    while len(chosen) < size:
        stack = [rng.choice(names)]
        while stack and len(chosen) < size:
            name = stack.pop()
            if name in chosen or name not in by_name:
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


def base_repo(root: Path, rows: List[dict]) -> Path:
    """Repository metadata of the whole Fedora data as the base (only what cycle breaking reads)."""
    repo = root / "base"
    (repo / "repodata").mkdir(parents=True)
    parts = ['<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm">']
    for number, row in enumerate(rows):
        entries = "".join(f"<rpm:entry name={quoteattr(provide_name(p))}/>" for p in row["provides"])
        parts.append(f"<package type=\"rpm\"><name>{row['name']}</name><arch>noarch</arch>"
                     f"<version epoch=\"0\" ver=\"1\" rel=\"1\"/><checksum type=\"sha256\" pkgid=\"YES\">{number:064x}"
                     f"</checksum><location href=\"{row['name']}-1-1.noarch.rpm\"/><format><rpm:provides>{entries}"
                     "</rpm:provides></format></package>")
    parts.append("</metadata>")
    (repo / "repodata" / "primary.xml.gz").write_bytes(gzip.compress("".join(parts).encode()))
    (repo / "repodata" / "repomd.xml").write_text(
        '<repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="primary">'
        '<location href="repodata/primary.xml.gz"/></data></repomd>')
    return repo


def make_stream(root: Path, rows: List[dict], base: Path) -> Path:
    for row in rows:
        write_repo(root / "rpms" / f"{row['name']}.git", "release-1",
                   {f"{row['name']}.spec": spec_text(row).encode()})
    manifest = root / "stream" / "stream-build.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(f"base: fedora-44-x86_64\nbase_repos: ['file://{base}']\nbuild:\n- type: dist-git\n"
                        f"  url: file://{root}/rpms/\n  packages:\n"
                        + "".join(f"  - {r['name']}:release-1\n" for r in rows))
    return manifest


def cli(*args: str) -> float:
    """Seconds of one ``stream-build`` command in a fresh process (its output discarded)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "core"))
    cmd = [sys.executable, "-c", "import sys; from streambuild.cli import main; sys.exit(main())", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"stream-build {' '.join(args[:1])} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,20000", help="stream sizes (default 1000,5000,20000)")
    parser.add_argument("--repeat", type=int, default=3, help="re-plans per size (median; default 3)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(list(argv))
    everything = read_rows(data_path())
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-replan-") as tmp:
        base = base_repo(Path(tmp), everything)
        for size in (int(s) for s in args.sizes.split(",")):
            rows = closure(everything, size, args.seed)
            root = Path(tmp) / f"s{size}"
            manifest = make_stream(root, rows, base)
            cold = cli("plan", str(manifest))
            validates, replans = [], []
            for _ in range(args.repeat):  # interleaved, so that both see the same load
                validates.append(cli("validate", str(manifest)))
                replans.append(cli("plan", str(manifest)))
            validate, replan = statistics.median(validates), statistics.median(replans)
            results.append((len(rows), validate, cold, replan))
            print(f"{len(rows):>6} components: replan/validate {replan / validate:5.2f}  replan/cold {replan / cold:.3f}"
                  f"   seconds: validate {validate:.2f}, cold plan {cold:.1f}, re-plan {replan:.2f}"
                  f" ({'meets' if len(rows) < 19000 or replan < 2 else 'misses'} the < 2 s target at 20k)",
                  flush=True)
            shutil.rmtree(root)
    if len(results) > 1:
        (n0, v0, _c0, r0), (n1, v1, _c1, r1) = results[0], results[-1]
        print(f"replan growth: {((r1 - v1) / n1) / ((r0 - v0) / n0):.2f} (the re-plan's time beyond validate's, per "
              f"component, at {n1} over that at {n0}; 1 is linear)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
