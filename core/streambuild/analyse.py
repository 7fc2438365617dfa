"""Analysis: what each component needs to build and what it provides, at its locked commit.

rpm's own spec parser (``rpmspec``) is asked, with the base's dist macros and the
set's macros defined, for the source package's BuildRequires and for every binary
package's name and Provides. Results are cached by the prepared sources' digest, so
re-planning an unchanged stream parses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import AnalysisError, EnvironmentProblem
from .graph import ComponentFacts
from .workdir import write_json

RPMSPEC_TIMEOUT = 120
ANALYSIS_VERSION = 1


@dataclass(frozen=True)
class Analysis:
    """What rpm says about one component's spec for one base."""

    name: str
    version: str
    release: str
    buildrequires: Tuple[str, ...]
    packages: Tuple[str, ...]  # binary package names
    provides: Tuple[str, ...]

    @property
    def facts(self) -> ComponentFacts:
        return ComponentFacts(self.name, self.buildrequires, self.provides)

    def to_json(self) -> Dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "release": self.release,
            "buildrequires": list(self.buildrequires),
            "packages": list(self.packages),
            "provides": list(self.provides),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> "Analysis":
        return cls(
            str(data["name"]),
            str(data["version"]),
            str(data["release"]),
            tuple(data["buildrequires"]),  # type: ignore[arg-type]
            tuple(data["packages"]),  # type: ignore[arg-type]
            tuple(data["provides"]),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class SpecJob:
    """One spec to analyse: the component, the spec's path, the macros to define, and a cache key."""

    name: str
    spec_path: str
    macros: Tuple[Tuple[str, str], ...]
    source_digest: str

    def cache_key(self) -> str:
        data = json.dumps([ANALYSIS_VERSION, self.source_digest, self.macros], sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()


def define_args(macros: Sequence[Tuple[str, str]]) -> List[str]:
    args: List[str] = []
    for name, value in macros:
        args += ["--define", f"{name} {value}"]
    return args


def _rpmspec(job: SpecJob, query: Sequence[str]) -> str:
    cmd = ["rpmspec", *define_args(job.macros), "-q", *query, "--", job.spec_path]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=RPMSPEC_TIMEOUT, cwd=os.path.dirname(job.spec_path))
    except FileNotFoundError:
        raise EnvironmentProblem("rpmspec is not installed (Debian: apt install rpm; Fedora: dnf install rpm-build)") from None
    except subprocess.TimeoutExpired:
        raise AnalysisError(f"component {job.name}: rpmspec took longer than {RPMSPEC_TIMEOUT} s on {os.path.basename(job.spec_path)}") from None
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.decode("utf-8", "replace").splitlines() if l.strip()]
        why = "; ".join(lines[-3:]) or f"exit code {proc.returncode}"
        raise AnalysisError(f"component {job.name}: rpm cannot parse {os.path.basename(job.spec_path)}: {why}")
    return proc.stdout.decode("utf-8", "replace")


def analyse_spec(job: SpecJob) -> Analysis:
    """Ask rpmspec for the source package's BuildRequires and the binary packages' Provides."""
    srpm = _rpmspec(job, ["--srpm", "--qf", "S %{NAME}\\t%{VERSION}\\t%{RELEASE}\\n[R %{REQUIRENEVRS}\\n]"])
    binary = _rpmspec(job, ["--builtrpms", "--qf", "P %{NAME}\\n[V %{PROVIDENEVRS}\\n]"])
    name = version = release = ""
    buildrequires: List[str] = []
    for line in srpm.splitlines():
        if line.startswith("S "):
            name, version, release = (line[2:].split("\t") + ["", "", ""])[:3]
        elif line.startswith("R ") and not line[2:].startswith("rpmlib("):
            buildrequires.append(line[2:])
    packages: List[str] = []
    provides: List[str] = []
    for line in binary.splitlines():
        if line.startswith("P "):
            packages.append(line[2:])
        elif line.startswith("V "):
            provides.append(line[2:])
    if name and name != job.name:
        raise AnalysisError(f"component {job.name}: its spec builds source package {name!r}, not {job.name!r}")
    return Analysis(job.name, version, release, tuple(buildrequires), tuple(packages), tuple(provides))


class AnalysisCache:
    """Analyses stored as JSON by :meth:`SpecJob.cache_key`."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], f"{key}.json")

    def get(self, job: SpecJob) -> Optional[Analysis]:
        try:
            with open(self._path(job.cache_key())) as handle:
                return Analysis.from_json(json.load(handle))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, job: SpecJob, analysis: Analysis) -> None:
        write_json(self._path(job.cache_key()), analysis.to_json())


def analyse_all(jobs: Sequence[SpecJob], cache: Optional[AnalysisCache] = None, workers: int = 0) -> Dict[str, Analysis]:
    """Analyse every job in parallel (cached ones are not parsed again).

    Every spec that fails is reported together in one :class:`AnalysisError`, naming each.
    """
    results: Dict[str, Analysis] = {}
    todo = []
    for job in jobs:
        hit = cache.get(job) if cache else None
        if hit is not None:
            results[job.name] = hit
        else:
            todo.append(job)
    failures: List[str] = []

    def one(job: SpecJob) -> None:
        try:
            analysis = analyse_spec(job)
        except AnalysisError as exc:
            failures.append(exc.message)
            return
        results[job.name] = analysis
        if cache:
            cache.put(job, analysis)

    with ThreadPoolExecutor(max_workers=workers or max(2, (os.cpu_count() or 2))) as pool:
        list(pool.map(one, todo))
    if failures:
        raise AnalysisError("; ".join(sorted(failures)))
    return {job.name: results[job.name] for job in jobs}
