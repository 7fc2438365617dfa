"""One stream, end to end: the operations every front-end (CLI, DNF, fedpkg, Koji) calls.

A :class:`Stream` binds a manifest, its lock file, its work directory and a plugin
manager. Each method is one step of the pipeline (lock, prepare, plan, build,
publish, install) and raises :class:`~streambuild.errors.StreamBuildError` for
anything a user can fix.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from . import journal as journal_mod
from . import tools, values
from .errors import BuildFailed, InputError, LockError
from .install import InstallRequest
from .manifest import Component, Manifest
from .manifestcache import load_manifest
from .plugins import Plugins, make_plugins
from .workdir import WorkDir, default_root

# What only planning and building use is imported where they start, so that opening a stream
# to install or to read its status does not pay for the planner, the analysis and the sources.
if TYPE_CHECKING:
    from . import durations as durations_mod
    from . import lock as lock_mod
    from .analyse import Analysis, AnalysisCache, Parsers, SpecJob
    from .baserepo import BaseProvides
    from .build import BuildReport
    from .plan import Plan
    from .publish import Published
    from .sources import PreparedSource

LockMode = str  # "auto": reuse matching entries; "update": re-resolve all; "locked": never resolve


@dataclass(frozen=True)
class Planned:
    """A plan with the lock and prepared sources it was made from."""

    lock: lock_mod.Lock
    plan: Plan
    sources: Mapping[str, PreparedSource]
    macros: Mapping[str, Tuple[Tuple[str, str], ...]]
    base: Optional[BaseProvides] = None
    #: the branches containing each locked commit, when the plan was asked to find them (``reach``)
    branches: Optional[Mapping[str, Tuple[str, ...]]] = None


class Stream:
    def __init__(
        self,
        manifest_path: str,
        workdir: Optional[str] = None,
        plugins: Optional[Plugins] = None,
        jobs: int = 4,
        config_path: Optional[str] = None,
    ) -> None:
        self.manifest: Manifest = load_manifest(manifest_path, default_root(manifest_path, workdir))
        self.workdir = WorkDir(default_root(self.manifest.path, workdir))
        self.config_path = config_path  # stream-build's config file (--config), for the policy checks
        self.lock_path = self.manifest.lock_path
        self.plugins = plugins or make_plugins()
        self.jobs = max(1, jobs)
        self.journal = journal_mod.Journal(self.workdir.journal)

    # -- events ---------------------------------------------------------------

    def emit(self, event: Mapping[str, Any]) -> None:
        self.journal.write(event)
        self.plugins.hook.streambuild_event(event={"time": time.time(), **event})

    def notify(self, event: Mapping[str, Any]) -> None:
        """An event for the plugins only (progress: a phase starting, a source fetched), not journaled."""
        self.plugins.hook.streambuild_event(event={"time": time.time(), **event})

    def warn(self, message: str, **data: Any) -> None:
        """A warning every front-end shows (standard error) and the journal keeps.

        The front-ends' reporter (:class:`streambuild.progress.Progress`, ``shows_warnings``) prints it;
        without one it is written to standard error here.
        """
        self.emit({"event": "warning", "message": message, **data})
        if not any(getattr(p, "shows_warnings", False) for p in self.plugins.manager.get_plugins()):
            sys.stderr.write(f"stream-build: warning: {values.redact(message)}\n")

    # -- lock -----------------------------------------------------------------

    def lock(self, mode: LockMode = "auto", drift: bool = True) -> lock_mod.Lock:
        """Return the lock for this run, resolving refs over git as ``mode`` allows.

        With ``drift``, refs kept from an existing lock are checked against their remotes: a
        branch that moved since is a warning (the locked commit is built). ``lock_changes`` says
        afterwards what a re-resolution changed.
        """
        from . import lock as lock_mod

        new, kept, answers = self._lock(mode)
        if drift:
            self._report_drift(lock_mod.drift(kept, known=answers) if kept.components else ([], []))
        return new

    def _lock(self, mode: LockMode) -> Tuple[lock_mod.Lock, lock_mod.Lock, Dict[str, Dict[str, str]]]:
        """The lock; the part of it kept from the existing lock; what remotes were asked on the way."""
        from . import lock as lock_mod

        existing = lock_mod.read_existing(self.lock_path, replace_corrupt=(mode == "update"))
        self.lock_changes: List[str] = []
        answers: Dict[str, Dict[str, str]] = {}
        if mode == "locked":
            if existing is None:
                raise LockError(f"--locked given but {self.lock_path} does not exist (run 'stream-build lock')")
            lock_mod.check_matches(self.manifest, existing, self.lock_path)
            return existing, existing, answers
        previous = existing if mode == "auto" else None
        new = lock_mod.resolve_lock(self.manifest, self.workdir.git_cache, previous, jobs=8, answers=answers)
        if new != existing:
            self.lock_changes = lock_mod.changes(existing, new)
            lock_mod.write_lock(self.lock_path, new)
            self.emit({"event": "locked", "lock": self.lock_path, "components": len(new.components),
                       "changes": self.lock_changes})
        kept: Tuple[lock_mod.LockedComponent, ...] = ()
        if previous is not None:
            before = set(previous.components)
            kept = tuple(c for c in new.components if c in before)
        return new, lock_mod.Lock(new.base, kept), answers

    def _report_drift(self, found: Tuple[List[lock_mod.Drift], List[str]]) -> None:
        moved, unreachable = found
        for item in moved:
            self.warn(item.describe(), kind="lock-drift", component=item.name, locked=item.locked, now=item.now)
        for where in unreachable:
            self.warn(f"cannot tell whether the locked refs moved: {where}", kind="lock-drift")

    # -- sources and plan -----------------------------------------------------

    def macros_for(self, comp: Component) -> Tuple[Tuple[str, str], ...]:
        merged: Dict[str, str] = dict(self.manifest.base.macros())
        # pluggy calls the newest registration first: merge in registration order, so later plugins win
        for extra in reversed(self.plugins.hook.streambuild_build_macros(base=self.manifest.base, component=comp)):
            merged.update(extra or {})
        merged.update(dict(self.manifest.macros))
        merged.update(dict(comp.macros))
        return tuple(sorted(merged.items()))

    def resolve_base(self) -> None:
        """Rawhide's number from the base's metadata, when the manifest lists ``base_repos`` (see
        :mod:`streambuild.base`): before anything is analysed, so ``%fedora`` and ``%dist`` are rawhide's."""
        base = self.manifest.base
        if base.release == "rawhide" and base.number is None and self.manifest.base_repos:
            from .baserepo import newest_fedora_release

            number = newest_fedora_release(self.manifest.base_repos, self.workdir.path("base-repos"))
            self.manifest = replace(self.manifest, base=base.with_number(number))

    def prepare(self, lock: lock_mod.Lock) -> Dict[str, PreparedSource]:
        """Every component's sources at its locked commit; those prepared by an earlier run are reused as they are."""
        from .sources import prepare, prepared_source

        self.resolve_base()
        prepared: Dict[str, PreparedSource] = {}
        todo = []
        for comp in self.manifest.components:
            done = prepared_source(comp, lock.component(comp.name), self.workdir)
            if done is not None:
                prepared[comp.name] = done
            else:
                todo.append(comp)

        def one(comp: Component) -> PreparedSource:
            made = prepare(comp, lock.component(comp.name), self.workdir)
            self.notify({"event": "fetched", "component": comp.name})
            return made

        if todo:
            self.notify({"event": "phase", "phase": "fetch", "components": len(todo)})
            with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
                for made in pool.map(one, todo):
                    prepared[made.name] = made
            self.notify({"event": "phase", "phase": "fetch", "state": "end"})
        return {c.name: prepared[c.name] for c in self.manifest.components}

    def plan(self, mode: LockMode = "auto", known_durations: Optional[durations_mod.KnownDurations] = None,
             drift: bool = False, reach: bool = False) -> Planned:
        """Lock, prepare, analyse and plan. With ``drift`` (a build), the remotes of the refs kept from the
        lock are asked whether they moved, and with ``reach`` (a build's policy checks) which branches
        hold the locked commits, both while the sources are prepared and analysed; a plan alone asks
        no remote about what the lock already holds."""
        from .graph import gc_paused

        with gc_paused():  # reading and planning tens of thousands of components make no garbage cycles
            return self._plan(mode, known_durations, drift, reach)

    def _plan(self, mode: LockMode, known_durations: Optional[durations_mod.KnownDurations], drift: bool,
              reach: bool) -> Planned:
        from .analyse import AnalysisCache, Parsers

        cache = AnalysisCache(self.workdir.path("analysis"))
        parsers = None
        if cache.empty() and self.manifest.components:  # a cold plan: the parsers start while sources are fetched
            sources_dir = self.workdir.path("sources")
            os.makedirs(sources_dir, exist_ok=True)
            parsers = Parsers([sources_dir], min(len(self.manifest.components), os.cpu_count() or 2))
        try:
            return self._planned(mode, known_durations, drift, reach, cache, parsers)
        finally:
            if parsers is not None:
                parsers.close()

    def _planned(self, mode: LockMode, known_durations: Optional[durations_mod.KnownDurations], drift: bool,
                 reach: bool, cache: AnalysisCache, parsers: Optional[Parsers]) -> Planned:
        from . import durations as durations_mod
        from . import lock as lock_mod
        from . import plancache
        from .analyse import analyse_all
        from .plan import make_plan
        from .results import ResultStore, facts_key

        lock, kept, answers = self._lock(mode)
        checking = _Background(lambda: lock_mod.drift(kept, known=answers)) if drift and kept.components else None
        reaching = (_Background(lambda: lock_mod.reachability(self.workdir.git_cache, lock, known=answers))
                    if reach else None)
        sources = self.prepare(lock)
        macros = {c.name: self.macros_for(c) for c in self.manifest.components}
        jobs = self.spec_jobs(sources, macros)
        self.notify({"event": "phase", "phase": "analyse", "components": len(jobs)})
        analyses = self._with_dynamic(jobs, analyse_all(jobs, cache, parsers=parsers), sources, cache)
        self.notify({"event": "phase", "phase": "analyse", "state": "end"})
        base = self.base_index(analyses.values())
        store = ResultStore(self.workdir.results)
        built: Dict[str, Dict[str, List[str]]] = {}
        stored = set(os.listdir(store.root)) if os.path.isdir(store.root) else set()  # one listing, not one a component
        for c in self.manifest.components:
            if c.name not in stored:
                continue
            known = store.built_provides(c.name, facts_key(c.name, sources[c.name].digest, self.manifest.base.name,
                                                           macros[c.name]))
            if known is not None:
                built[c.name] = known
        notes = [note for a in analyses.values() if a.dynamic for note in a.dynamic.notes]
        approximate = sorted(a.name for a in analyses.values() if a.approximate)
        if approximate:
            notes.append(f"{len(approximate)} of {len(analyses)} specs were analysed with stream-build's stand-ins for "
                         "Fedora macros this host lacks (approximate; see 'plan --json')")
        estimates = durations_mod.estimate(sources, store, known_durations)
        commits = {c.name: c.commit for c in lock.components}
        buildonly = {c.name: c.buildonly for c in self.manifest.components}
        seconds = {n: e.seconds for n, e in estimates.items()}
        seconds_from = {n: e.source for n, e in estimates.items()}
        python = self.manifest.base.python3_version
        key = self._plan_key(jobs, cache, base, commits, buildonly, seconds, seconds_from, built, python, notes)
        plan = plancache.load(self.workdir.root, key, self.manifest.name, self.manifest.base.name, analyses, commits,
                              buildonly) if key else None
        if plan is None:
            plan = make_plan(self.manifest.name, self.manifest.base.name, analyses, commits, buildonly,
                             base if base is not None else (lambda cap: False), seconds, seconds_from, built=built,
                             python_version=python, notes=notes)
            if key:
                plancache.store(self.workdir.root, key, plan)
        if checking is not None:
            self._report_drift(checking.result())
        return Planned(lock, plan, sources, macros, base, reaching.result() if reaching is not None else None)

    def _plan_key(self, jobs: Sequence[SpecJob], cache: AnalysisCache, base: Optional[BaseProvides],
                  commits: Mapping[str, str], buildonly: Mapping[str, bool], seconds: Mapping[str, float],
                  seconds_from: Mapping[str, str], built: Mapping[str, Mapping[str, Sequence[str]]], python: str,
                  notes: Sequence[str]) -> Optional[str]:
        """The digest of what the plan is made from (:mod:`streambuild.plancache`), or ``None`` when part of
        it cannot be digested (an analysis not in the cache file, a base index not read from repositories)."""
        from .plancache import plan_key

        analyses = cache.fingerprint(jobs)
        if analyses is None or (base is not None and base.fingerprint is None):
            return None
        return plan_key(self.manifest.name, self.manifest.base.name,
                        [(c.name, commits[c.name], buildonly[c.name]) for c in self.manifest.components], analyses,
                        base.fingerprint if base is not None else None, seconds, seconds_from, built, python, notes)

    def spec_jobs(self, sources: Mapping[str, PreparedSource],
                  macros: Optional[Mapping[str, Tuple[Tuple[str, str], ...]]] = None) -> List[SpecJob]:
        """What to analyse: every component's spec at its prepared sources, with its macros."""
        from .analyse import SpecJob

        fallback = self.manifest.base.analysis_fallback()
        return [SpecJob(c.name, sources[c.name].spec_path, macros[c.name] if macros else self.macros_for(c),
                        sources[c.name].digest, fallback) for c in self.manifest.components]

    def base_index(self, analyses: Iterable[Analysis] = ()) -> Optional[BaseProvides]:
        """What the base's repositories (``base_repos:``) provide; ``None`` when the manifest lists none."""
        from .baserepo import BaseProvides

        if not self.manifest.base_repos:
            return None
        files = {dep for a in analyses for dep in a.all_buildrequires if dep.startswith("/")}
        return BaseProvides.from_repos(self.manifest.base_repos, self.workdir.path("base-repos"), files)

    def _with_dynamic(self, jobs: Sequence[SpecJob], analyses: Dict[str, Analysis],
                      sources: Mapping[str, PreparedSource], cache: AnalysisCache) -> Dict[str, Analysis]:
        """Each analysis with what its ``%generate_buildrequires`` adds, as far as planning can learn it."""
        from . import dynamic

        todo = [j for j in jobs if analyses[j.name].generators and analyses[j.name].dynamic is None]
        python = self.manifest.base.python3_version

        def one(job: SpecJob) -> Tuple[SpecJob, Analysis]:
            found = dynamic.plan_time(job.name, analyses[job.name], sources[job.name].directory, python)
            return job, replace(analyses[job.name], dynamic=found)

        if not todo:
            return analyses
        with ThreadPoolExecutor(max_workers=max(1, min(len(todo), os.cpu_count() or 2))) as pool:
            made = list(pool.map(one, todo))
        cache.put_many(made)
        done = {job.name: analysis for job, analysis in made}
        return {name: done.get(name, analysis) for name, analysis in analyses.items()}

    # -- build and publish ----------------------------------------------------

    def build(
        self,
        backend: str = "auto",
        mode: LockMode = "auto",
        keep_going: bool = False,
        resume: bool = False,
        check: bool = True,
        backend_options: Optional[Mapping[str, Any]] = None,
    ) -> Tuple[BuildReport, Optional[Published]]:
        """Check the tools, plan, check the stream policies (unless ``check`` is False), build and publish.

        ``backend`` ``auto`` is mock where mock is installed, local otherwise (the report says
        which and why). A missing tool, or a backend that cannot run here, is an
        :class:`EnvironmentProblem` before anything is locked, fetched or built. A resumed
        run is not checked again when the run it continues was checked.
        """
        from .backends import choose as choose_backend
        from .build import Executor, StreamJob

        tools.require(tools.STREAM_TOOLS, "building a stream")
        registry = self.plugins.registry
        backend, backend_reason = choose_backend(backend, registry.backend_names)
        whole_streams = registry.builds_streams(backend)
        last = None
        if resume:
            last = journal_mod.last_run(self.workdir.journal)
            if last is None or not last.interrupted:
                raise InputError("--resume: there is no interrupted run in this work directory")
            mode = "locked"
        factory = registry.stream_backend(backend) if whole_streams else registry.backend(backend)
        try:
            backend_obj: Any = factory(**backend_options) if backend_options else factory()
        except TypeError as exc:
            raise InputError(f"build backend {backend!r} does not take these options: {exc}") from None
        checked = bool(resume and last is not None and last.start.get("checked"))
        planned = self.plan(mode, backend_obj.known_durations if whole_streams else None,  # a hub's build history
                            drift=True, reach=check and not checked)
        if resume and last is not None and last.start.get("lock") not in (None, planned.lock.to_json()):
            raise LockError(f"--resume: {self.lock_path} changed since the interrupted run; build without --resume")
        findings = []
        if check and not checked:
            from .policy import check as policy_check
            from . import forgeconfig

            findings = policy_check.preflight(self, planned, config=forgeconfig.load(self.config_path))
            checked = True
        self.journal.start_run(
            command="build", manifest=self.manifest.path, backend=backend, resume=resume,
            lock=planned.lock.to_json(), jobs=self.jobs, checked=checked,
        )
        if not check:
            self.emit({"event": "policy", "skipped": True})
        self.emit({"event": "backend", "backend": backend, "reason": backend_reason})
        self.emit({"event": "plan", "plan": planned.plan.to_json()})
        for finding in findings:
            if finding.verdict == "warn":
                self.warn(f"{finding.component}: {finding.rule}: {finding.reason}", kind="policy", rule=finding.rule,
                          component=finding.component)
        for note in planned.plan.notes:
            self.warn(note, kind="plan")
        self.notify({"event": "phase", "phase": "build", "components": len(planned.plan.components)})
        outcome = "interrupted"  # until the builds are over: a full disk there can be resumed
        try:
            if whole_streams:  # a backend that builds the whole set itself (koji)
                report = backend_obj.build_stream(StreamJob(self.manifest, planned.lock, planned.plan, planned.sources,
                                                planned.macros, self.workdir, self.emit, keep_going, self.jobs))
            else:
                executor = Executor(
                    planned.plan, planned.sources, planned.macros, self.manifest.base, self.workdir,
                    backend_obj, self.emit, self.jobs, keep_going, planned.base,
                )
                report = executor.run()
            report.backend, report.backend_reason = backend, backend_reason
            outcome = "failed"  # from here on, an error (publishing, a full disk) is a failure, not an interruption
            published = None
            if report.ok:
                published = self.publish(planned.plan, report)
            outcome = "ok" if report.ok else ("submitted" if report.pending else "failed")
        finally:
            self.emit({"event": "run-end", "outcome": outcome})
        return report, published

    def publish(self, plan: Plan, report: BuildReport) -> Published:
        from .publish import publish

        self.notify({"event": "phase", "phase": "publish"})
        shipped = {c.name: report.results[c.name].rpms for c in plan.components if not c.buildonly}
        buildonly = {c.name: report.results[c.name].rpms for c in plan.components if c.buildonly}
        published = publish(self.workdir, shipped, buildonly)
        self.emit({"event": "published", "repo": published.stream_repo, "packages": list(published.packages)})
        self.notify({"event": "phase", "phase": "publish", "state": "end"})
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
            rpmdb=self.manifest.base.rpmdb,
        )

    def install(
        self,
        target: str,
        packages: Sequence[str],
        installroot: Optional[str] = None,
        confirm: Optional[Callable[[List[str]], bool]] = None,
    ) -> List[str]:
        request = self.install_request(packages, installroot, confirm)
        self.notify({"event": "phase", "phase": "install", "packages": list(packages), "installroot": request.installroot})
        installed: List[str] = self.plugins.registry.install_target(target)().install(request)
        self.notify({"event": "phase", "phase": "install", "state": "end"})
        self.emit({"event": "installed", "target": target, "installroot": request.installroot, "packages": installed})
        return installed


class _Background:
    """One call run in a daemon thread (a run that fails does not wait for it); :meth:`result` waits."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._call = call
        self._value: Any = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # noqa: BLE001 - raised in the waiting thread
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def require_success(report: BuildReport) -> None:
    if not report.ok:
        failed = [r.name for r in report.results.values() if r.state == "failed"]
        raise BuildFailed(f"{len(failed)} component(s) failed: {', '.join(failed)}")
