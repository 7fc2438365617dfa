"""Publishing: the stream's repository (createrepo_c) and the separate build-only repository.

Repositories are made anew from the results in a temporary directory and swapped
into place, so a reader (DNF, a build) never sees one half-written; a repository already made of
the same RPMs is left as it is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .errors import EnvironmentProblem, PolicyDenied, PublishError
from .workdir import WorkDir, disk_full, is_disk_full, nearly_full, read_json

STREAM_REPO = "stream"
BUILDONLY_REPO = "buildonly"


@dataclass(frozen=True)
class Published:
    stream_repo: str
    buildonly_repo: str
    packages: Tuple[str, ...]  # file names in the stream repo


def rpm_name(path: str) -> str:
    """The package name of an RPM file named ``name-version-release.arch.rpm``."""
    base = os.path.basename(path)[: -len(".rpm")]
    return base.rsplit(".", 1)[0].rsplit("-", 2)[0]


def check_unique_names(rpms_by_component: Mapping[str, Sequence[str]]) -> None:
    """No two components of a set may ship a binary RPM of the same name (the policy's own rule, on the
    RPMs really built: a name analysis could not see, e.g. from a generated subpackage, is caught here)."""
    from .policy.rules import shared_binary_names

    clashes = shared_binary_names({c: [rpm_name(p) for p in rpms_by_component[c]] for c in sorted(rpms_by_component)})
    if clashes:
        raise PolicyDenied("two components ship binary RPMs of the same name: " + ", ".join(
            f"{name} (from {' and '.join(components)})" for name, components in sorted(clashes.items())))


#: Beside a published repository's RPMs: what it was made of (path, size and time of each RPM).
_INPUTS = ".stream-build-inputs.json"


def _inputs(rpms: Sequence[str]) -> Optional[List[List[object]]]:
    try:
        return [[os.path.abspath(p), (st := os.stat(p)).st_size, st.st_mtime_ns] for p in rpms]
    except OSError:
        return None


def make_repo(directory: str, rpms: Iterable[str]) -> None:
    """Replace ``directory`` with a repository of ``rpms``; nothing is done when it already is one of the same RPMs
    (the same files, unchanged since), as on a re-run of an unchanged stream."""
    rpms = list(rpms)
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    made_of = _inputs(rpms)
    if made_of is not None and os.path.exists(os.path.join(directory, "repodata", "repomd.xml")) \
            and read_json(os.path.join(directory, _INPUTS)) == made_of \
            and all(os.path.exists(os.path.join(directory, os.path.basename(p))) for p in rpms):
        return
    new = f"{directory}.new"
    shutil.rmtree(new, ignore_errors=True)
    os.makedirs(new)
    for rpm in rpms:
        dest = os.path.join(new, os.path.basename(rpm))
        try:
            os.link(rpm, dest)
        except OSError:
            shutil.copyfile(rpm, dest)
    from . import procs

    try:
        proc = procs.run(["createrepo_c", "--quiet", "--no-database", new], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise EnvironmentProblem("createrepo_c is not installed (Debian: apt install createrepo-c)") from None
    if proc.returncode != 0:
        detail = proc.stderr.strip()[-500:] or f"exit code {proc.returncode}"
        # createrepo_c does not always say why (a full disk can be "gzclose(): file operation error")
        full = "No space left on device" in proc.stderr or "Disk quota exceeded" in proc.stderr or nearly_full(new)
        error = disk_full(new, f"createrepo_c writing the repository ({detail})") if full else PublishError(
            f"createrepo_c failed to make the repository {directory}: {detail}")
        shutil.rmtree(new, ignore_errors=True)
        raise error
    if made_of is not None:
        try:
            with open(os.path.join(new, _INPUTS), "w", encoding="utf-8") as handle:
                json.dump(made_of, handle)
        except OSError as exc:
            shutil.rmtree(new, ignore_errors=True)
            if is_disk_full(exc):
                raise disk_full(new, "recording what the repository holds") from None
            raise
    old = f"{directory}.old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(directory):
        os.replace(directory, old)
    os.replace(new, directory)
    shutil.rmtree(old, ignore_errors=True)


def publish(workdir: WorkDir, shipped: Mapping[str, Sequence[str]], buildonly: Mapping[str, Sequence[str]]) -> Published:
    """Write the stream repo (shipped components) and the build-only repo."""
    check_unique_names({**shipped, **buildonly})
    stream = os.path.join(workdir.repos, STREAM_REPO)
    only = os.path.join(workdir.repos, BUILDONLY_REPO)
    stream_rpms: List[str] = sorted(p for paths in shipped.values() for p in paths)
    make_repo(stream, stream_rpms)
    make_repo(only, sorted(p for paths in buildonly.values() for p in paths))
    return Published(stream, only, tuple(os.path.basename(p) for p in stream_rpms))
