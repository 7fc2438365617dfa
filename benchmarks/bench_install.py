"""Installing: ``stream-build install`` against plain ``dnf --installroot ... install -y`` of the same RPMs.

Builds ``--packages`` small noarch RPMs with the real rpmbuild (default 30: a chain of
Requires, so one requested package pulls in the rest, each with a few hundred files), publishes
them as a stream repository with the real publisher (:func:`streambuild.publish.make_repo`,
createrepo_c) into a work directory, and then, alternately (paired runs, so both see the same
load on a shared machine), into a fresh installroot each time:

* ``stream-build install <top> --installroot R -y`` (the real CLI: DNF4's API in the same process,
  rpm's ``%_dbpath`` defined for the install so the root's database is at the base's
  ``/usr/lib/sysimage/rpm``);
* ``dnf --installroot R --releasever 44 install -y <top>`` with the same repository, the same
  options (no GPG check, no weak dependencies, no repositories from ``/etc``) and the same
  ``%_dbpath`` (given to rpm the same way, in ``~/.rpmmacros``), so both make the same root.

It prints the median of ``--repeat`` pairs (default 5) of ``install/dnf`` (target ≤ 1.15) and the
seconds, and checks that both roots hold the same packages in the same database. Each run starts
after a ``sync``, so that neither pays for the other's writeback. Needs rpmbuild,
createrepo_c and Debian's ``dnf`` (python3-dnf). Run from the work tree's root:
``.venv/bin/python benchmarks/bench_install.py [--packages 30] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import os
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

from streambuild.publish import make_repo  # noqa: E402

DBPATH = "/usr/lib/sysimage/rpm"


def spec(number: int, count: int, files: int) -> str:
    requires = f"Requires: benchpkg{number + 1}\n" if number + 1 < count else ""
    return (f"Name: benchpkg{number}\nVersion: 1.0\nRelease: 1\nSummary: s\nLicense: MIT\nBuildArch: noarch\n"
            f"{requires}%description\nd\n%install\nmkdir -p %{{buildroot}}/usr/share/benchpkg{number}\n"
            f"for i in $(seq {files}); do echo $i > %{{buildroot}}/usr/share/benchpkg{number}/f$i; done\n"
            f"%files\n/usr/share/benchpkg{number}\n")


def build_rpms(top: Path, count: int, files: int) -> List[Path]:
    for number in range(count):
        path = top / f"benchpkg{number}.spec"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(spec(number, count, files))
        subprocess.run(["rpmbuild", "--define", f"_topdir {top}", "-bb", str(path)], check=True, capture_output=True)
    return sorted((top / "RPMS").rglob("*.rpm"))


def timed(cmd: Sequence[str], env: dict) -> float:
    os.sync()  # what the run before wrote is on the disk: its writeback is not this run's time
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return elapsed


def installed(root: Path) -> List[str]:
    out = subprocess.run(["rpm", "--root", str(root), "--dbpath", DBPATH, "-qa"], capture_output=True, text=True)
    return sorted(out.stdout.split())


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=30, help="RPMs in the chain (default 30)")
    parser.add_argument("--files", type=int, default=200, help="files in each RPM (default 200)")
    parser.add_argument("--repeat", type=int, default=5, help="pairs of installs (median; default 5)")
    args = parser.parse_args(list(argv))
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp_name:
        tmp = Path(tmp_name)
        rpms = build_rpms(tmp / "rpmbuild", args.packages, args.files)
        manifest = tmp / "stream" / "stream-build.yaml"
        manifest.parent.mkdir()
        manifest.write_text("base: fedora-44-x86_64\nbuild:\n- type: dist-git\n  url: file:///nowhere/\n"
                            "  packages:\n  - benchpkg0:main\n")
        repo = manifest.parent / ".stream-build" / "repos" / "stream"
        make_repo(str(repo), [str(p) for p in rpms])
        home = tmp / "home"
        (home / ".config" / "rpm").mkdir(parents=True)
        for macros in (home / ".rpmmacros", home / ".config" / "rpm" / "macros"):
            macros.write_text(f"%_dbpath {DBPATH}\n")
        dnf_env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
        ours_env = dict(os.environ, PYTHONPATH=str(ROOT / "core"))
        ours: List[float] = []
        plain: List[float] = []
        for run in range(args.repeat):
            mine, theirs = tmp / f"ours{run}", tmp / f"dnf{run}"
            cmd_ours = [sys.executable, "-c", "import sys; from streambuild.cli import main; sys.exit(main())",
                        "install", "-m", str(manifest), "benchpkg0", "--installroot", str(mine), "-y"]
            cmd_dnf = ["/usr/bin/dnf", "--installroot", str(theirs), "--releasever", "44", "--setopt=reposdir=",
                       "--setopt=gpgcheck=0", "--setopt=install_weak_deps=0", "--setopt=metadata_expire=0",
                       f"--setopt=cachedir={tmp / 'dnf-cache'}", "--repofrompath", f"stream-build,file://{repo}",
                       "--repo", "stream-build", "-q", "install", "-y", "benchpkg0"]
            for first in ((cmd_ours, ours_env, ours), (cmd_dnf, dnf_env, plain))[:: 1 if run % 2 == 0 else -1]:
                first[2].append(timed(first[0], first[1]))
            if run == 0:
                same = installed(mine) == installed(theirs) and len(installed(mine)) == args.packages
                if not same:
                    sys.exit(f"the roots differ: {installed(mine)} against {installed(theirs)}")
            shutil.rmtree(mine)
            shutil.rmtree(theirs)
    t_ours, t_dnf = statistics.median(ours), statistics.median(plain)
    print(f"packages: {args.packages} RPMs of {args.files} files each, both roots alike (rpm -qa --dbpath {DBPATH})")
    print(f"install/dnf ratio: {t_ours / t_dnf:.2f}   (target <= 1.15; median of {args.repeat} pairs)")
    print(f"absolute seconds: stream-build install {t_ours:.2f}, dnf install {t_dnf:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
