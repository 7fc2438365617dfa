"""A cold ``stream-build build`` of the example against the same rpmbuild commands run from a shell.

The example (``examples/``, what ``scripts/example.sh`` builds: the toy stack tinypython3.11,
tinytorch and the upstream tinyllm, and the real one: the C library tinyz, the Python module
tinyconf and the C program tinyzip compiled and tested against both) is served on loopback by
``examples/localforge.py`` (git daemon and an HTTP lookaside). In one run, alternately (paired, so both see the same load):

* ``build``: the real ``stream-build build -j 2`` in a fresh work directory, local backend: lock
  over git, sources and lookaside files fetched, specs analysed in the sandbox, the plan, the
  policy checks, then per component its SRPM in a sandbox, its BuildRequires resolved, a build
  root with the stream RPMs it needs installed into it, rpmbuild in that build root, the
  results stored and the repositories published;
* ``shell``: what a packager would type for the same builds, ``rpmbuild -bs`` and
  ``rpmbuild -bb`` of each spec in build order on the same sources (as the first build
  prepared them), one after the other from one ``sh`` script, no sandbox, no build root
  (``--nodeps``; what a build needs of the stream installed by hand, see :func:`shell_script`).

It prints the median of ``--repeat`` pairs (default 5) of ``build/shell`` (target ≤ 1.3) and the
seconds of both. Run from the work tree's root as root (the build roots need namespaces):
``.venv/bin/python benchmarks/bench_build.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "core"))
sys.path.insert(0, str(ROOT / "examples"))

import localforge  # noqa: E402


def cli(*args: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "core"))
    cmd = [sys.executable, "-c", "import sys; from streambuild.cli import main; sys.exit(main())", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"stream-build {args[0]} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return elapsed


def shell_script(manifest: Path, work: Path) -> str:
    """rpmbuild -bs and -bb of every component in build order, on the sources the build prepared.

    What a component needs of the stream to build (headers, libraries, Python modules) is
    installed, as a packager would by hand, into a directory of its own with
    ``rpm --root DIR -i --nodeps --noscripts`` from the shell's own earlier builds, and found
    there through ``CPATH``, ``LIBRARY_PATH``, ``LD_LIBRARY_PATH`` and ``PYTHONPATH``.
    """
    plan = json.loads(subprocess.run(
        [sys.executable, "-c", "import sys; from streambuild.cli import main; sys.exit(main())", "plan", "--json",
         "--locked", str(manifest)], env=dict(os.environ, PYTHONPATH=str(ROOT / "core")),
        capture_output=True, text=True, check=True).stdout)
    sources = manifest.parent / ".stream-build" / "sources"
    after = {c["name"]: c["after"] for c in plan["components"]}
    lines = ["set -e"]
    for comp in plan["components"]:
        name = comp["name"]
        found = [d for d in sources.iterdir() if d.name.startswith(f"{name}-") and (d / f"{name}.spec").exists()]
        src = shlex.quote(str(found[0]))
        top = shlex.quote(str(work / name))
        spec = shlex.quote(str(found[0] / f"{name}.spec"))
        needed, stack = [], list(after[name])
        while stack:
            dep = stack.pop()
            if dep not in needed:
                needed.append(dep)
                stack.extend(after[dep])
        defines = (f"--define '_topdir {top}' --define '_sourcedir {src}' --define '_specdir {src}' "
                   "--define 'fedora 44' --define 'dist .fc44'")
        env = ""
        if needed:
            tree = shlex.quote(str(work / f"{name}.deps"))
            rpms = " ".join(shlex.quote(str(work / d / "RPMS")) + "/*/*.rpm" for d in needed)
            lines.append(f"rpm --root {tree} --dbpath /var/lib/rpm -i --nodeps --noscripts --nosignature "
                         f"{rpms} >/dev/null 2>&1")
            libs = ":".join(f"{tree}/usr/{d}" for d in ("lib64", "lib"))
            env = (f"CPATH={tree}/usr/include LIBRARY_PATH={libs} LD_LIBRARY_PATH={libs} "
                   f"PYTHONPATH=$(echo {tree}/usr/lib*/python3*/site-packages | tr ' ' :) ")
        lines.append(f"rpmbuild {defines} --nodeps -bs {spec} >/dev/null 2>&1")
        lines.append(f"{env}rpmbuild {defines} --nodeps -bb {spec} >/dev/null 2>&1  # {name}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="pairs of runs (median; default 5)")
    parser.add_argument("--stack", default="full", choices=localforge.STACKS,
                        help="the example's full stack (default: the toy one and tinyz, tinyconf, tinyzip) or the toy one")
    args = parser.parse_args(list(argv))
    builds: List[float] = []
    shells: List[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp_name:
        tmp = Path(tmp_name)
        with localforge.LocalForge(tmp / "forge") as forge:
            script = None
            for run in range(args.repeat):
                manifest = forge.write_manifest(tmp / f"run{run}" / "stream-build.yaml", tmp / f"run{run}" / "root",
                                                stack=args.stack)
                if script is None:  # the first build prepares the sources the shell builds from
                    builds.append(cli("build", str(manifest), "-j", "2", "--backend", "local"))
                    script = shell_script(manifest, tmp / "shell")
                    order = [line.rsplit("# ", 1)[-1] for line in script.splitlines() if " -bb " in line]
                    print(f"components: {len(order)} ({', '.join(order)})", flush=True)
                    start = time.perf_counter()
                    subprocess.run(["sh", "-c", script], check=True)
                    shells.append(time.perf_counter() - start)
                    continue
                shutil.rmtree(tmp / "shell", ignore_errors=True)
                start = time.perf_counter()
                subprocess.run(["sh", "-c", script], check=True)
                shells.append(time.perf_counter() - start)
                builds.append(cli("build", str(manifest), "-j", "2", "--backend", "local"))
    t_build, t_shell = statistics.median(builds), statistics.median(shells)
    print(f"build/shell ratio: {t_build / t_shell:.2f}   (target <= 1.3; median of {args.repeat} pairs)")
    print(f"absolute seconds: cold build {t_build:.2f}, the rpmbuild commands {t_shell:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
