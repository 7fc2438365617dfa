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
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from . import buildreqs, scheduler
from .backends import Backend, BuildJob, BuildOutcome, log_tail
from .base import Base
from .errors import EnvironmentProblem
from .plan import Plan
from .results import ResultStore, StoredResult, result_key
from .sources import PreparedSource
from .workdir import WorkDir

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


@dataclass(frozen=True)
class StreamJob:
    """A whole stream for a backend that builds sets itself (Koji's ``streamBuild``), not one component at a time.

    A backend offering ``build_stream(job) -> BuildReport`` gets this instead of per-component
    :class:`~streambuild.backends.BuildJob` calls; it reports every component in the report,
    with the RPMs it brought back (or ``submitted`` when it did not wait).
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

    def _key(self, name: str) -> str:
        comp = self.plan.component(name)
        dep_keys = [self.report.results[d].key or "" for d in comp.after]
        return result_key(
            name, comp.commit, self.sources[name].digest, self.base.name, self.macros[name], self.backend.name, dep_keys
        )

    def _dependency_rpms(self, name: str) -> Tuple[str, ...]:
        return tuple(p for dep in self.plan.closure(name) for p in self.report.results[dep].rpms)

    def _build(self, name: str, key: str) -> Tuple[BuildOutcome, Optional[StoredResult], float]:
        staged = self.workdir.tmp(f"result-{name}-")
        scratch = self.workdir.tmp(f"build-{name}-")
        log = os.path.join(staged, "build.log")
        source = self.sources[name]
        job = BuildJob(name, source.spec_path, source.directory, self.macros[name], self._dependency_rpms(name),
                       scratch, staged, log, self.base, self._cancel)
        start = time.monotonic()
        try:
            outcome = self.backend.build(job)
        except EnvironmentProblem:  # the host, not the component (a full disk): the run stops, exit 4
            self._keep_failed_log(name, log)
            shutil.rmtree(staged, ignore_errors=True)
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

    def _start_ready(self, pool: ThreadPoolExecutor, queue: scheduler.ReadyQueue, running: Dict[Future, str]) -> None:
        """Start ready components until every worker is busy; reuse stored results on the way."""
        while len(running) < self.jobs:
            name = queue.pop()
            if name is None:
                return
            key = self._key(name)
            self.report.results[name].key = key
            stored = self.store.get(name, key)
            if stored is not None:
                self._set(name, "cached", rpms=stored.rpms, srpm=stored.srpm, log=stored.log,
                          resolution=buildreqs.load(stored.directory))
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
            queue.done(name)
            return True
        log = os.path.join(self.workdir.path("logs"), f"{name}.log")
        self._set(name, "failed", log=log, message=outcome.message, duration=duration, resolution=outcome.resolution)
        for skipped in sorted(queue.failed(name)):
            self._set(skipped, "skipped", message=f"needs {name}, which failed")
        return False

    def run(self) -> BuildReport:
        deps = self.plan.dependencies
        durations = {n: self.store.last_duration(n) or 1.0 for n in deps}
        queue = scheduler.ReadyQueue(deps, scheduler.priorities(deps, durations))
        for name in deps:
            self.emit({"event": "component", "component": name, "state": "waiting"})
        running: Dict[Future, str] = {}
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
        return self.report
