"""The build executor: runs a plan on a backend, in dependency order, ``-j`` at a time.

Components start as soon as what they need is done (critical-path priority, no
batch barriers). A result already in the store is reused; a failure skips its
dependents and, with ``keep_going``, lets independent components finish. Each
state change is an event (journal, progress) emitted through ``emit``.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

from . import buildreqs, dynamic, scheduler
from ._foreign import rpmlib
from .audit import ComponentAudit, audit_build
from .backends import Backend, BuildJob, BuildOutcome, log_tail
from .base import Base
from .baserepo import BaseProvides
from .capabilities import leaves, parse_dependency
from .errors import DiskFull, EnvironmentProblem, StreamBuildError
from .plan import Plan
from .providers import ProviderIndex
from .results import ResultStore, StoredResult, facts_key, result_key
from .sources import PreparedSource
from .workdir import WorkDir, read_json, write_json

Emit = Callable[[Mapping[str, Any]], None]

STATES = ("waiting", "building", "done", "cached", "failed", "skipped", "not-started", "submitted")


@dataclass
class ComponentResult:
    name: str
    state: str = "waiting"
    key: Optional[str] = None
    rpms: Tuple[str, ...] = ()
    srpm: Optional[str] = None
    log: Optional[str] = None
    message: str = ""
    duration: float = 0.0
    resolution: Optional[buildreqs.Resolution] = None  # where its BuildRequires came from (local backend)

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {
            "name": self.name,
            "state": self.state,
            "key": self.key,
            "rpms": [os.path.basename(p) for p in self.rpms],
            "log": self.log,
            "message": self.message,
            "duration": round(self.duration, 3),
        }
        if self.resolution is not None:
            data["buildrequires"] = self.resolution.to_json()
        return data


@dataclass
class BuildReport:
    results: Dict[str, ComponentResult] = field(default_factory=dict)
    audits: Dict[str, ComponentAudit] = field(default_factory=dict)
    added_edges: List[Dict[str, str]] = field(default_factory=list)  # edges learned while building

    @property
    def findings(self) -> List[str]:
        """What the series audit found: builds made against the base for what the stream provides."""
        return [f for audit in self.audits.values() for f in audit.findings]
    backend: str = ""  # the backend that built (the one 'auto' chose)
    backend_reason: str = ""  # why that one

    @property
    def ok(self) -> bool:
        return all(r.state in ("done", "cached") for r in self.results.values())

    def count(self, state: str) -> int:
        return sum(1 for r in self.results.values() if r.state == state)

    @property
    def pending(self) -> bool:
        """Handed to a remote builder that goes on without us (``--nowait``); nothing to publish yet."""
        return any(r.state == "submitted" for r in self.results.values())


class StreamBackend(Protocol):
    """A backend that builds a whole stream itself (Koji's ``streamBuild``), registered with
    ``registry.add_stream_backend``; per-component backends are :class:`~streambuild.backends.Backend`."""

    name: str

    def known_durations(self, names: Sequence[str]) -> Mapping[str, float]:
        """Build seconds it knows from history, for the names it knows (``{}`` when it knows none)."""

    def build_stream(self, job: "StreamJob") -> "BuildReport":
        """Build every component of ``job.plan``; report each (``submitted`` when it does not wait)."""


@dataclass(frozen=True)
class StreamJob:
    """A whole stream for a :class:`StreamBackend`, instead of per-component
    :class:`~streambuild.backends.BuildJob` calls; it reports every component in the report, with
    the RPMs it brought back (or ``submitted`` when it did not wait).
    """

    manifest: Any  # streambuild.manifest.Manifest
    lock: Any  # streambuild.lock.Lock
    plan: Plan
    sources: Mapping[str, PreparedSource]
    macros: Mapping[str, Tuple[Tuple[str, str], ...]]
    workdir: WorkDir
    emit: Emit
    keep_going: bool = False
    jobs: int = 1


def run_priorities(plan: Plan, store: Optional[ResultStore] = None) -> Tuple[scheduler.Dag, Dict[str, float]]:
    """The graph a run schedules, and each component's critical-path priority (its bottom level in expected
    seconds): the plan's durations (:mod:`streambuild.durations`: a build service's history, earlier
    builds here, or a guess from the sources' size on a first run), else the newest stored build's."""
    deps = plan.dependencies
    durations = {n: (plan.duration(n) or ((store.last_duration(n) if store else None) or 1.0, ""))[0] for n in deps}
    dag = scheduler.Dag(deps)  # built once, for both
    return dag, scheduler.priorities(dag, durations)


class Executor:
    def __init__(
        self,
        plan: Plan,
        sources: Mapping[str, PreparedSource],
        macros: Mapping[str, Tuple[Tuple[str, str], ...]],
        base: Base,
        workdir: WorkDir,
        backend: Backend,
        emit: Emit,
        jobs: int = 1,
        keep_going: bool = False,
        base_index: Optional[BaseProvides] = None,
    ) -> None:
        self.plan = plan
        self.sources = sources
        self.macros = macros
        self.base = base
        self.workdir = workdir
        self.backend = backend
        self.emit = emit
        self.jobs = max(1, jobs)
        self.keep_going = keep_going
        self.store = ResultStore(workdir.results)
        self.report = BuildReport({c.name: ComponentResult(c.name) for c in plan.components})
        self._cancel = threading.Event()
        self.base_index = base_index
        #: dependencies learned while building (a requirement the plan did not know, met by the stream)
        self.extra: Dict[str, List[str]] = {}
        self.requirements: Dict[str, Tuple[str, ...]] = {}  # exact BuildRequires of each component
        self.built: Dict[str, Dict[str, List[str]]] = {}  # real Provides by binary package, once built
        self.index = ProviderIndex()  # the best-known Provides of every component
        for comp in plan.components:
            known = comp.provides
            if known is not None:
                self.index.add(comp.name, known.provides, known.sources)
            else:
                self.index.add(comp.name, comp.analysis.provides)

    def _set(self, name: str, state: str, **extra: Any) -> None:
        result = self.report.results[name]
        result.state = state
        for key, value in extra.items():
            setattr(result, key, value)
        event: Dict[str, Any] = {"event": "component", "component": name, "state": state}
        if result.key:
            event["key"] = result.key
        if state in ("done", "cached", "failed"):
            event.update(duration=round(result.duration, 3), log=result.log, message=result.message)
            if result.resolution is not None and result.resolution.assumed:
                event["assumed_from_host"] = list(result.resolution.assumed)
        if state == "failed" and result.log:
            event["log_tail"] = log_tail(result.log)
        self.emit(event)

    def _deps(self, name: str) -> Tuple[str, ...]:
        return tuple(self.plan.component(name).after) + tuple(self.extra.get(name, ()))

    def _closure(self, name: str) -> List[str]:
        """Every component ``name`` needs, directly or not (late edges included), in build order."""
        planned = self.plan.closure(name)  # computed once per name by the plan
        if not self.extra or (name not in self.extra and not any(d in self.extra for d in planned)):
            return planned
        seen: Dict[str, None] = {}
        stack = list(self._deps(name))
        while stack:
            item = stack.pop()
            if item not in seen:
                seen[item] = None
                stack.extend(self._deps(item))
        return sorted(seen, key=self.plan.position)

    def _key(self, name: str) -> str:
        comp = self.plan.component(name)
        dep_keys = [self.report.results[d].key or "" for d in self._deps(name)]
        return result_key(
            name, comp.commit, self.sources[name].digest, self.base.name, self.macros[name], self.backend.name, dep_keys
        )

    def _dependency_rpms(self, name: str) -> Tuple[str, ...]:
        return tuple(p for dep in self._closure(name) for p in self.report.results[dep].rpms)

    # -- what is learned while building -----------------------------------------------------

    def _facts_key(self, name: str) -> str:
        return facts_key(name, self.sources[name].digest, self.base.name, self.macros[name])

    def _requirements(self, name: str) -> Tuple[str, ...]:
        """The exact BuildRequires of a component: its SRPM's, the generated ones included.

        A spec whose ``%generate_buildrequires`` planning could not answer exactly gets one
        generator round (``rpmbuild -br``, sandboxed) before it builds; the answer is kept.
        """
        analysis = self.plan.component(name).analysis
        requires = analysis.all_buildrequires
        if not analysis.generators or (analysis.dynamic is not None and analysis.dynamic.exact):
            return requires
        cache = self.workdir.path("generated", f"{name}-{self._facts_key(name)[:24]}.json")
        found = read_json(cache)
        if not isinstance(found, list):
            scratch = self.workdir.tmp(f"generate-{name}-")
            try:
                source = self.sources[name]
                found, why = dynamic.generator_round(name, source.spec_path, source.directory, self.macros[name], scratch)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            if found is None:
                self.emit({"event": "note", "component": name,
                           "message": f"{name}: {why}; its generated BuildRequires stay unknown"})
                return requires
            write_json(cache, found)
        return tuple(dict.fromkeys((*found, *requires)))

    def _needs(self, component: str, other: str) -> bool:
        return other in self._closure(component)

    def _late_dependencies(self, name: str, queue: scheduler.ReadyQueue) -> bool:
        """Match a component's exact BuildRequires against what the stream provides now; return
        whether it must wait for a component the plan did not order it after."""
        requires = self.requirements[name] = self._requirements(name)
        closure = set(self._closure(name))
        late: Dict[str, Tuple[str, str, str]] = {}
        for requirement in requires:
            node = parse_dependency(requirement)
            for leaf in leaves(node) if node is not None else ():
                for other, provide, source in self.index.meeting(leaf, exclude=name)[0]:
                    state = self.report.results[other].state
                    if other in closure or other in late or state in ("failed", "skipped", "not-started"):
                        continue
                    if self._needs(other, name):
                        continue  # a cycle: built against the base here; the audit says so
                    late[other] = (requirement, str(provide), str(source))
        if not late:
            return False
        self.extra.setdefault(name, []).extend(late)
        for other, (requirement, provided, source) in late.items():
            edge = {"component": name, "after": other, "capability": requirement, "provide": provided, "source": source}
            self.report.added_edges.append(edge)
            self.emit({"event": "edge-added", **edge})
        waits = queue.wait_for(name, list(late))
        if waits:
            self.emit({"event": "component", "component": name, "state": "waiting",
                       "message": "waits for " + ", ".join(f"{o} ({r})" for o, (r, _p, _s) in late.items())})
        return waits

    def _learn(self, name: str, rpms: Sequence[str]) -> None:
        """Replace a component's predicted Provides with its RPMs' real ones."""
        known = self.store.built_provides(name, self._facts_key(name))
        if known is None:
            known = {}
            for path in rpms:
                if path.endswith(".src.rpm"):
                    continue
                try:
                    header = rpmlib.read_header(path)
                except StreamBuildError:
                    continue
                known[header.name] = list(header.provides)
            self.store.put_provides(name, self._facts_key(name), known)
        self.built[name] = known
        flat = [p for provides in known.values() for p in provides]
        self.index.replace(name, flat, ["built"] * len(flat))

    def _audit(self) -> None:
        """The series audit of every component built or reused in this run."""
        versions = {c.name: c.analysis.evr for c in self.plan.components}
        host = "the host" if self.backend.name == "local" else f"the {self.backend.name} buildroot"
        for comp in self.plan.components:
            name = comp.name
            if self.report.results[name].state not in ("done", "cached"):
                continue
            root = ProviderIndex()
            for dep in self._closure(name):
                flat = [p for provides in self.built.get(dep, {}).values() for p in provides]
                root.add(dep, flat, ["built"] * len(flat))
            audit = audit_build(name, self.requirements.get(name, comp.analysis.all_buildrequires), root, self.index,
                                versions, self.base_index, host, self.report.results[name].resolution)
            self.report.audits[name] = audit
            self.emit({"event": "audit", **audit.to_json()})

    def _build(self, name: str, key: str) -> Tuple[BuildOutcome, Optional[StoredResult], float]:
        staged = self.workdir.tmp(f"result-{name}-")
        scratch = self.workdir.tmp(f"build-{name}-")
        log = os.path.join(staged, "build.log")
        self.emit({"event": "build-log", "component": name, "log": log})  # to follow while it builds
        source = self.sources[name]
        analysis = self.plan.component(name).analysis
        generated = tuple(r for r in self.requirements.get(name, ()) if r not in analysis.buildrequires)
        job = BuildJob(name, source.spec_path, source.directory, self.macros[name], self._dependency_rpms(name),
                       scratch, staged, log, self.base, self._cancel, generated, analysis.buildrequires)
        start = time.monotonic()
        try:
            outcome = self.backend.build(job)
        except EnvironmentProblem as exc:  # the host, not the component (a full disk): the run stops, exit 4
            self._keep_failed_log(name, log)
            shutil.rmtree(staged, ignore_errors=True)
            if isinstance(exc, DiskFull) and f"build of {name}" not in exc.message:
                raise DiskFull(f"the build of {name} ran out of disk space: {exc.message} "
                               "(then continue with --resume)") from None
            raise
        except Exception as exc:  # a backend bug must not take the other builds down
            outcome = BuildOutcome(False, message=f"{type(exc).__name__}: {exc}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        duration = time.monotonic() - start
        if not outcome.ok:
            self._keep_failed_log(name, log)
            shutil.rmtree(staged, ignore_errors=True)
            return BuildOutcome(False, message=outcome.message, resolution=outcome.resolution), None, duration
        if outcome.resolution is not None:
            buildreqs.save(outcome.resolution, staged)
        stored = self.store.put(name, key, staged, outcome.rpms, outcome.srpm, duration)
        return outcome, stored, duration

    def _keep_failed_log(self, name: str, log: str) -> None:
        failed_log = os.path.join(self.workdir.path("logs"), f"{name}.log")
        os.makedirs(os.path.dirname(failed_log), exist_ok=True)
        if os.path.exists(log):
            os.replace(log, failed_log)

    def _start_ready(self, pool: ThreadPoolExecutor, queue: scheduler.ReadyQueue, running: Dict["Future[Any]", str]) -> None:
        """Start ready components until every worker is busy; reuse stored results on the way."""
        while len(running) < self.jobs:
            name = queue.pop()
            if name is None:
                return
            if self._late_dependencies(name, queue):
                continue  # back to waiting, for a component the plan did not order it after
            key = self._key(name)
            self.report.results[name].key = key
            stored = self.store.get(name, key)
            if stored is not None:
                self._set(name, "cached", rpms=stored.rpms, srpm=stored.srpm, log=stored.log,
                          resolution=buildreqs.load(stored.directory))
                self._learn(name, stored.rpms)
                queue.done(name)
                continue
            self._set(name, "building")
            running[pool.submit(self._build, name, key)] = name

    def _finish(
        self, name: str, finished: Tuple[BuildOutcome, Optional[StoredResult], float], queue: scheduler.ReadyQueue
    ) -> bool:
        """Record a finished build; on failure skip its dependents. Return whether it succeeded."""
        outcome, stored, duration = finished
        if stored is not None:
            self._set(name, "done", rpms=stored.rpms, srpm=stored.srpm, log=stored.log, duration=duration,
                      resolution=outcome.resolution)
            self._learn(name, stored.rpms)
            queue.done(name)
            return True
        log = os.path.join(self.workdir.path("logs"), f"{name}.log")
        self._set(name, "failed", log=log, message=outcome.message, duration=duration, resolution=outcome.resolution)
        for skipped in sorted(queue.failed(name)):
            self._set(skipped, "skipped", message=f"needs {name}, which failed")
        return False

    def run(self) -> BuildReport:
        dag, priorities = run_priorities(self.plan, self.store)
        queue = scheduler.ReadyQueue(dag, priorities)
        deps = self.plan.dependencies
        for name in deps:
            self.emit({"event": "component", "component": name, "state": "waiting"})
        running: Dict["Future[Any]", str] = {}
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            try:
                stopping = False
                while True:
                    if not stopping:
                        self._start_ready(pool, queue, running)
                    if not running:
                        break
                    # a timeout, so that the main thread wakes up to take Ctrl-C even when the
                    # signal was delivered to a worker thread
                    finished, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in finished:
                        ok = self._finish(running.pop(future), future.result(), queue)
                        stopping = stopping or (not ok and not self.keep_going)
            except BaseException:  # Ctrl-C: stop the builds under way before the pool waits for them
                self._cancel.set()
                raise
        for name, result in self.report.results.items():
            if result.state == "waiting":
                self._set(name, "not-started", message="stopped after a failure (use --keep-going)")
        self._audit()
        return self.report
