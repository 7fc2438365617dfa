"""One stream, end to end: the operations every front-end (CLI, DNF, fedpkg, Koji) calls.

A :class:`Stream` binds a manifest, its lock file, its work directory and a plugin
manager. Each method is one step of the pipeline (lock, prepare, plan, build,
publish, install) and raises :class:`~streambuild.errors.StreamBuildError` for
anything a user can fix.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from . import check as policy_check
from . import durations as durations_mod
from . import journal as journal_mod
from . import lock as lock_mod
from .analyse import AnalysisCache, SpecJob, analyse_all
from .baserepo import BaseProvides
from .build import BuildReport, Executor, StreamJob
from .errors import BuildFailed, InputError, LockError
from .install import InstallRequest
from .manifest import Component, Manifest, load_manifest
from .plan import Plan, make_plan
from .plugins import Plugins, make_plugins
from .publish import Published, publish
from .results import ResultStore
from .sources import PreparedSource, prepare
from .workdir import WorkDir

LockMode = str  # "auto": reuse matching entries; "update": re-resolve all; "locked": never resolve


@dataclass(frozen=True)
class Planned:
    """A plan with the lock and prepared sources it was made from."""

    lock: lock_mod.Lock
    plan: Plan
    sources: Mapping[str, PreparedSource]
    macros: Mapping[str, Tuple[Tuple[str, str], ...]]


class Stream:
    def __init__(
        self,
        manifest_path: str,
        workdir: Optional[str] = None,
        plugins: Optional[Plugins] = None,
        jobs: int = 4,
    ) -> None:
        self.manifest: Manifest = load_manifest(manifest_path)
        self.workdir = WorkDir(workdir or os.path.join(self.manifest.directory, ".stream-build"))
        self.lock_path = lock_mod.lock_path(self.manifest)
        self.plugins = plugins or make_plugins()
        self.jobs = max(1, jobs)
        self.journal = journal_mod.Journal(self.workdir.journal)

    # -- events ---------------------------------------------------------------

    def emit(self, event: Mapping[str, Any]) -> None:
        self.journal.write(event)
        self.plugins.hook.streambuild_event(event={"time": time.time(), **event})

    # -- lock -----------------------------------------------------------------

    def lock(self, mode: LockMode = "auto") -> lock_mod.Lock:
        """Return the lock for this run, resolving refs over git as ``mode`` allows."""
        existing: Optional[lock_mod.Lock] = None
        if os.path.exists(self.lock_path):
            existing = lock_mod.read_lock(self.lock_path)
        if mode == "locked":
            if existing is None:
                raise LockError(f"--locked given but {self.lock_path} does not exist (run 'stream-build lock')")
            lock_mod.check_matches(self.manifest, existing, self.lock_path)
            return existing
        previous = existing if mode == "auto" else None
        new = lock_mod.resolve_lock(self.manifest, self.workdir.git_cache, previous, jobs=8)
        if new != existing:
            lock_mod.write_lock(self.lock_path, new)
            self.emit({"event": "locked", "lock": self.lock_path, "components": len(new.components)})
        return new

    # -- sources and plan -----------------------------------------------------

    def macros_for(self, comp: Component) -> Tuple[Tuple[str, str], ...]:
        merged: Dict[str, str] = dict(self.manifest.base.macros())
        for extra in self.plugins.hook.streambuild_build_macros(base=self.manifest.base, component=comp):
            merged.update(extra or {})
        merged.update(dict(self.manifest.macros))
        merged.update(dict(comp.macros))
        return tuple(sorted(merged.items()))

    def prepare(self, lock: lock_mod.Lock) -> Dict[str, PreparedSource]:
        def one(comp: Component) -> PreparedSource:
            return prepare(comp, lock.component(comp.name), self.workdir)

        with ThreadPoolExecutor(max_workers=8) as pool:
            prepared = list(pool.map(one, self.manifest.components))
        return {p.name: p for p in prepared}

    def plan(self, mode: LockMode = "auto", known_durations: Optional[durations_mod.KnownDurations] = None) -> Planned:
        lock = self.lock(mode)
        sources = self.prepare(lock)
        macros = {c.name: self.macros_for(c) for c in self.manifest.components}
        jobs = [SpecJob(c.name, sources[c.name].spec_path, macros[c.name], sources[c.name].digest) for c in self.manifest.components]
        analyses = analyse_all(jobs, AnalysisCache(self.workdir.path("analysis")))
        store = ResultStore(self.workdir.results)
        estimates = durations_mod.estimate(sources, store, known_durations)
        plan = make_plan(
            self.manifest.name,
            self.manifest.base.name,
            analyses,
            {c.name: c.commit for c in lock.components},
            {c.name: c.buildonly for c in self.manifest.components},
            BaseProvides.from_repos(self.manifest.base_repos, self.workdir.path("base-repos")) if self.manifest.base_repos else (lambda cap: False),
            {n: e.seconds for n, e in estimates.items()},
            {n: e.source for n, e in estimates.items()},
        )
        return Planned(lock, plan, sources, macros)

    # -- build and publish ----------------------------------------------------

    def build(
        self,
        backend: str = "local",
        mode: LockMode = "auto",
        keep_going: bool = False,
        resume: bool = False,
        check: bool = True,
        backend_options: Optional[Mapping[str, Any]] = None,
    ) -> Tuple[BuildReport, Optional[Published]]:
        """Plan, check the stream policies (unless ``check`` is False), build and publish.

        A resumed run is not checked again when the run it continues was checked.
        """
        last = None
        if resume:
            last = journal_mod.last_run(self.workdir.journal)
            if last is None or not last.interrupted:
                raise InputError("--resume: there is no interrupted run in this work directory")
            mode = "locked"
        factory = self.plugins.registry.backend(backend)
        try:
            backend_obj = factory(**backend_options) if backend_options else factory()
        except TypeError as exc:
            raise InputError(f"build backend {backend!r} does not take these options: {exc}") from None
        planned = self.plan(mode, getattr(backend_obj, "known_durations", None))  # a backend with build history
        if resume and last is not None and last.start.get("lock") not in (None, planned.lock.to_json()):
            raise LockError(f"--resume: {self.lock_path} changed since the interrupted run; build without --resume")
        checked = bool(resume and last is not None and last.start.get("checked"))
        if check and not checked:
            policy_check.preflight(self, planned)
            checked = True
        self.journal.start_run(
            command="build", manifest=self.manifest.path, backend=backend, resume=resume,
            lock=planned.lock.to_json(), jobs=self.jobs, checked=checked,
        )
        if not check:
            self.emit({"event": "policy", "skipped": True})
        self.emit({"event": "plan", "plan": planned.plan.to_json()})
        outcome = "interrupted"
        try:
            build_stream = getattr(backend_obj, "build_stream", None)
            if build_stream is not None:  # a backend that builds the whole set itself (koji)
                report = build_stream(StreamJob(self.manifest, planned.lock, planned.plan, planned.sources,
                                                planned.macros, self.workdir, self.emit, keep_going, self.jobs))
            else:
                executor = Executor(
                    planned.plan, planned.sources, planned.macros, self.manifest.base, self.workdir,
                    backend_obj, self.emit, self.jobs, keep_going,
                )
                report = executor.run()
            published = None
            if report.ok:
                published = self.publish(planned.plan, report)
            outcome = "ok" if report.ok else ("submitted" if report.pending else "failed")
        finally:
            self.emit({"event": "run-end", "outcome": outcome})
        return report, published

    def publish(self, plan: Plan, report: BuildReport) -> Published:
        shipped = {c.name: report.results[c.name].rpms for c in plan.components if not c.buildonly}
        buildonly = {c.name: report.results[c.name].rpms for c in plan.components if c.buildonly}
        published = publish(self.workdir, shipped, buildonly)
        self.emit({"event": "published", "repo": published.stream_repo, "packages": list(published.packages)})
        return published

    # -- install --------------------------------------------------------------

    @property
    def stream_repo(self) -> str:
        return os.path.join(self.workdir.repos, "stream")

    def install_request(
        self,
        packages: Sequence[str],
        installroot: Optional[str] = None,
        confirm: Optional[Callable[[List[str]], bool]] = None,
    ) -> InstallRequest:
        """What an install target is asked to do: these packages, from the stream (and base) repos."""
        if not packages:
            raise InputError("nothing to install: name packages, or list them under install.packages")
        return InstallRequest(
            packages=list(packages),
            stream_repo=self.stream_repo,
            installroot=os.path.abspath(installroot) if installroot else "/",
            releasever=self.manifest.base.releasever,
            cachedir=self.workdir.path("dnf-cache"),
            extra_repos={f"base-{i}": url for i, url in enumerate(self.manifest.base_repos)},
            confirm=confirm,
        )

    def install(
        self,
        target: str,
        packages: Sequence[str],
        installroot: Optional[str] = None,
        confirm: Optional[Callable[[List[str]], bool]] = None,
    ) -> List[str]:
        request = self.install_request(packages, installroot, confirm)
        installed = self.plugins.registry.install_target(target)().install(request)
        self.emit({"event": "installed", "target": target, "installroot": request.installroot, "packages": installed})
        return installed


def require_success(report: BuildReport) -> None:
    if not report.ok:
        failed = [r.name for r in report.results.values() if r.state == "failed"]
        raise BuildFailed(f"{len(failed)} component(s) failed: {', '.join(failed)}")
