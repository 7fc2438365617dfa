"""The ``koji`` build backend: the stream built by a Koji hub, results brought home.

Two modes, chosen by what the hub offers (``system.listMethods``) and announced:

- **plugin**: the hub has ``streambuild.submit``; one call submits the whole set (lock,
  plan, flags) and the hub's ``streamBuild`` task runs the chained scratch builds.
- **sidetag**: the hub has only side tags (Koji >= 1.34 with the sidetag plugin); this
  client creates a side tag of the target's build tag and submits draft builds into it
  in dependency order, each waiting (``wait_builds``) for what it needs to be in the
  side tag's repo.

Either way ``watch`` polls with ONE multicall per poll, however many tasks run; the
results are downloaded (``listTaskOutput``/``downloadTaskOutput``) into the result
store and the stream repository is published locally, so ``stream-build install``
works as after a local build. Transport errors are retried with backoff; a submit
carries an idempotency key kept in ``<workdir>/koji.json`` (written before the call),
so a retried or repeated submit never starts a second build. Without the plugin, the
non-idempotent calls (``createSideTag``, ``build``) are recovered after a transport
error by looking for what the first attempt created.

Settings: the koji profile (``profile=``, ``$STREAM_BUILD_KOJI_PROFILE``, default ``koji``),
its ``streambuild_target`` (or ``target=``/``$STREAM_BUILD_KOJI_TARGET``) and
``poll_interval``; ``config=`` (or ``$STREAM_BUILD_KOJI_CONFIG``) adds a config file.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..base import parse_base
from ..build import BuildReport, ComponentResult, StreamJob
from ..errors import BuildFailed, EnvironmentProblem, InputError
from ..results import ResultStore
from ..workdir import atomic_write
from . import NAMESPACE, foreign, hubapi
from .keys import BACKEND, result_keys, stream_key
from .config import KojiProfile, load_profile

STATE_FILE = "koji.json"
_STATE_MAP = {"done": "done", "failed": "failed", "skipped": "skipped", "not-started": "not-started",
              "canceled": "not-started", "waiting": "not-started", "building": "not-started"}


def _say_stderr(line: str) -> None:
    sys.stderr.write(f"koji: {line}\n")
    sys.stderr.flush()


def make_submission(job: StreamJob, key: str) -> hubapi.Submission:
    """The stream as the hub plugin takes it: lock entries plus manifest flags and the client's plan."""
    comps = []
    for comp in job.manifest.components:
        if comp.macros:
            raise InputError(f"component {comp.name}: per-component macros cannot be applied to Koji scratch "
                             "builds (a stream tag has one set of rpm macros); use set-level macros", comp.location)
        planned = job.plan.component(comp.name)
        comps.append(hubapi.SubmittedComponent(
            job.lock.component(comp.name), comp.buildonly, comp.replaces, comp.macros, comp.spec, comp.version,
            comp.lookaside, tuple(planned.analysis.package_names), tuple(planned.after),
            expected[0] if (expected := job.plan.duration(comp.name)) is not None else None))
    install = job.manifest.install.packages if job.manifest.install else ()
    return hubapi.Submission(job.manifest.name, job.manifest.base, key, tuple(comps), job.manifest.macros, tuple(install))


def default_target(base_name: str) -> str:
    """Fedora's build target for a base: ``fedora-44-x86_64`` -> ``f44``, rawhide -> ``rawhide``.

    Other distributions name targets their own way; they get ``<distro>-<release>`` and
    should set ``streambuild_target`` in the profile.
    """
    base = parse_base(base_name)
    if base.distro == "fedora":
        return "rawhide" if base.release == "rawhide" else f"f{base.release}"
    return f"{base.distro}-{base.release}"


class KojiState:
    """``<workdir>/koji.json``: what was submitted where, written atomically before and after each submit."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> Dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def write(self, data: Mapping[str, Any]) -> None:
        atomic_write(self.path, (json.dumps(dict(data), indent=2, sort_keys=True) + "\n").encode())


class KojiBackend:
    """Builds a whole stream on Koji (see the module docstring)."""

    name = BACKEND

    def __init__(self, profile: Optional[str] = None, target: Optional[str] = None, config: Optional[str] = None,
                 nowait: bool = False, mode: str = "auto", say: Optional[Callable[[str], None]] = None,
                 session: Any = None, **overrides: str) -> None:
        if mode not in ("auto", "plugin", "sidetag"):
            raise InputError(f"koji mode must be auto, plugin or sidetag, not {mode!r}")
        foreign()  # without the koji client library: exit 4 and what to install, before anything else
        self.profile_name = profile or os.environ.get("STREAM_BUILD_KOJI_PROFILE") or "koji"
        self.target_override = target or os.environ.get("STREAM_BUILD_KOJI_TARGET") or None
        self.config = config
        self.nowait = nowait
        self.mode = mode
        self.say = say or _say_stderr
        self.overrides = {k: str(v) for k, v in overrides.items()}
        self._profile: Optional[KojiProfile] = None
        self.session: Any = session  # a logged-in HubSession (the koji CLI plugin passes its own)
        self.user: Optional[str] = None
        self.user_id: Optional[int] = None
        if session is not None:
            info = session.call("getLoggedInUser") or {}
            self.user, self.user_id = info.get("name"), info.get("id")
        self.polls: List[int] = []  # requests made by each poll (always 1)
        self.regenerations: Optional[Mapping[str, Any]] = None  # the stream task's repo regenerations

    # -- the pieces -------------------------------------------------------------------

    @property
    def profile(self) -> KojiProfile:
        if self._profile is None:
            self._profile = load_profile(self.profile_name, self.config, overrides=self.overrides)
        return self._profile

    def target(self, job: Optional[StreamJob] = None) -> str:
        if self.target_override:
            return self.target_override
        if self.profile.target:
            return self.profile.target
        if job is not None:
            return default_target(job.manifest.base.name)
        raise InputError("no build target: give target=, set streambuild_target in the koji profile, "
                         "or $STREAM_BUILD_KOJI_TARGET")

    def connect(self) -> Any:
        """Open and log in the session (once)."""
        if self.session is None:
            self.session = foreign().HubSession.open(self.profile)
            info = self.session.login(self.profile) or {}
            self.user, self.user_id = info.get("name"), info.get("id")
        return self.session

    def detect_mode(self) -> str:
        methods = self.connect().methods()
        has_plugin = f"{NAMESPACE}.submit" in methods
        has_sidetag = "createSideTag" in methods
        if self.mode == "plugin" and not has_plugin:
            raise EnvironmentProblem(f"{self.profile.server} has no streambuild hub plugin (mode=plugin was asked)")
        if self.mode == "sidetag" and not has_sidetag:
            raise EnvironmentProblem(f"{self.profile.server} has no side tags (createSideTag) (mode=sidetag was asked)")
        if self.mode != "auto":
            return self.mode
        if has_plugin:
            return "plugin"
        if has_sidetag:
            return "sidetag"
        raise EnvironmentProblem(f"{self.profile.server} offers neither the streambuild hub plugin nor side tags "
                                 "(Koji >= 1.34 with the sidetag plugin); the stream cannot be built there")

    def known_durations(self, names: Sequence[str]) -> Dict[str, float]:
        """The hub's average build seconds of each package it built before, in ONE multicall."""
        answers = self.connect().multicall([("getAverageBuildDuration", (name,), {}) for name in names])
        known = {n: float(a) for n, a in zip(names, answers) if isinstance(a, (int, float)) and a > 0}
        self.say(f"expected durations from the hub's history: {len(known)} of {len(names)} components")
        return known

    def state(self, job: StreamJob) -> KojiState:
        return KojiState(job.workdir.path(STATE_FILE))

    # -- building ---------------------------------------------------------------------

    def build_stream(self, job: StreamJob) -> BuildReport:
        keys = result_keys(job)
        store = ResultStore(job.workdir.results)
        cached = {n: store.get(n, k) for n, k in keys.items()}
        if all(cached.values()):  # an unchanged stream: nothing to ask Koji
            report = BuildReport({n: ComponentResult(n, "cached", keys[n], r.rpms, r.srpm, r.log) for n, r in cached.items() if r})
            for name in report.results:
                job.emit({"event": "component", "component": name, "state": "cached", "key": keys[name]})
            return report
        target = self.target(job)
        mode = self.detect_mode()
        how = {"plugin": "through the streambuild hub plugin (chained scratch builds)",
               "sidetag": "without the hub plugin: side tag and draft builds (Koji >= 1.34)"}[mode]
        self.say(f"building {len(keys)} components on {self.profile.server} for target {target}, {how}")
        job.emit({"event": "koji", "mode": mode, "hub": self.profile.server, "target": target, "user": self.user})
        if mode == "plugin":
            task_id = self.submit(job, target)
            if self.nowait:
                return self._submitted(job, task_id)
            return self.watch_plugin(job, task_id)
        if self.nowait:
            raise InputError("--nowait needs the streambuild hub plugin: without it this client drives the "
                             "chain of draft builds and must keep running")
        from .sidetag import SidetagBuild

        return SidetagBuild(self, job, target, keys).run()

    def submit(self, job: StreamJob, target: str) -> int:
        """Submit through ``streambuild.submit``; a previous submit of the same stream is reused."""
        session = self.connect()
        state = self.state(job)
        ident = stream_key(job, self.profile, target)
        old = state.read()
        if old.get("stream") == ident and old.get("mode") == "plugin":
            if old.get("task_id"):
                info = session.call(f"{NAMESPACE}.status", old["task_id"])
                if info["state"] not in ("FAILED", "CANCELED"):
                    self.say(f"stream already submitted: {self.profile.task_url(old['task_id'])}")
                    return int(old["task_id"])
            elif old.get("key"):
                key = old["key"]  # a submit whose answer was lost: the same key finds its task
                return self._submit(job, target, state, ident, key)
        return self._submit(job, target, state, ident, uuid.uuid4().hex + uuid.uuid4().hex[:16])

    def _submit(self, job: StreamJob, target: str, state: KojiState, ident: str, key: str) -> int:
        submission = make_submission(job, key)
        record = {"mode": "plugin", "stream": ident, "key": key, "hub": self.profile.server,
                  "profile": self.profile_name, "target": target, "submitted": time.time()}
        state.write(record)  # before the call: a lost answer is recovered with the same key
        task_id = int(self.connect().call(f"{NAMESPACE}.submit", submission.lock.to_json(), target,
                                          submission.options()))
        state.write({**record, "task_id": task_id})
        self.say(f"stream task {task_id}: {self.profile.task_url(task_id)}")
        job.emit({"event": "koji-submitted", "task_id": task_id, "url": self.profile.task_url(task_id), "key": key})
        return task_id

    def _submitted(self, job: StreamJob, task_id: int) -> BuildReport:
        report = BuildReport()
        for comp in job.plan.components:
            report.results[comp.name] = ComponentResult(comp.name, "submitted", message=self.profile.task_url(task_id))
            job.emit({"event": "component", "component": comp.name, "state": "submitted", "task_id": task_id})
        return report

    # -- watching (plugin mode) ----------------------------------------------------------

    def poll(self, calls: Sequence[Tuple[str, Sequence[Any], Mapping[str, Any]]]) -> List[Any]:
        """One poll: every call in one multicall, so one HTTP request whatever the number of tasks."""
        session = self.connect()
        before = session.requests
        results: List[Any] = session.multicall(calls)
        self.polls.append(session.requests - before)
        return results

    def watch_plugin(self, job: StreamJob, task_id: int) -> BuildReport:
        """Follow a stream task until it ends; download and store its results."""
        HubFault = foreign().HubFault

        seen: Dict[str, Tuple[str, Optional[int]]] = {}
        for comp in job.plan.components:
            job.emit({"event": "component", "component": comp.name, "state": "waiting"})
        while True:
            (status,) = self.poll([(f"{NAMESPACE}.status", (task_id,), {})])
            if isinstance(status, HubFault):
                raise InputError(f"{self.profile.server}: streambuild.status({task_id}): {status}")
            job.emit({"event": "koji-poll", "task_id": task_id, "state": status["state"], "requests": self.polls[-1]})
            for comp in status["components"]:
                now = (comp["state"], comp.get("task_id"))
                if seen.get(comp["name"]) != now and comp["state"] == "building":
                    url = self.profile.task_url(comp["task_id"])
                    self.say(f"{comp['name']}: building {url}")
                    job.emit({"event": "component", "component": comp["name"], "state": "building",
                              "task_id": comp["task_id"], "url": url})
                seen[comp["name"]] = now
            if status["state"] in hubapi.FINISHED:
                break
            time.sleep(self.profile.poll_interval)
        return self.collect_plugin(job, task_id, status)

    def collect_plugin(self, job: StreamJob, task_id: int, status: Mapping[str, Any]) -> BuildReport:
        url = self.profile.task_url(task_id)
        if status["state"] == "FAILED" and not status.get("result"):
            raise BuildFailed(f"stream task {task_id} failed before building: {status.get('fault')} ({url})")
        if status["state"] == "CANCELED" and not any(c.get("state") == "done" for c in status["components"]):
            raise BuildFailed(f"stream task {task_id} was canceled ({url})")
        keys = result_keys(job)
        store = ResultStore(job.workdir.results)
        report = BuildReport()
        sizes: Dict[str, int] = {}
        if status.get("result"):
            listing = self.connect().call("listTaskOutput", task_id, stat=True)
            sizes = {name: int(st.get("st_size", -1)) for name, st in listing.items()}
        by_name = {c["name"]: c for c in status["components"]}
        for comp in job.plan.components:
            entry = by_name.get(comp.name, {"state": "not-started"})
            state = "canceled" if status["state"] == "CANCELED" and entry["state"] != "done" else entry["state"]
            url = self.profile.task_url(entry["task_id"]) if entry.get("task_id") else self.profile.task_url(task_id)
            if state == "done":
                files = [(task_id, rel, sizes.get(rel)) for rel in entry.get("rpms") or []]
                stored = self.store(job, store, comp.name, keys[comp.name], files, url)
                report.results[comp.name] = ComponentResult(comp.name, "done", keys[comp.name], stored.rpms, None, url,
                                                            f"{entry.get('nvr') or ''} {url}".strip())
                job.emit({"event": "component", "component": comp.name, "state": "done", "key": keys[comp.name],
                          "task_id": entry.get("task_id"), "url": url, "nvr": entry.get("nvr")})
                continue
            mapped = _STATE_MAP.get(state, "failed")
            message = entry.get("message") or ("the stream task was canceled" if state == "canceled" else "")
            report.results[comp.name] = ComponentResult(comp.name, mapped, keys[comp.name], log=url, message=message)
            event = {"event": "component", "component": comp.name, "state": mapped, "message": message, "url": url}
            if mapped == "failed":
                event.update(log=url, log_tail=entry.get("log_tail") or message)
            job.emit(event)
        self.regenerations = status.get("regenerations")
        if self.regenerations:
            job.emit({"event": "koji-regenerations", **self.regenerations})
            self.say(f"repo regenerations of the stream tag: {self.regenerations.get('count')} (at most "
                     f"{self.regenerations.get('bound')} for a plan of depth {self.regenerations.get('depth')})")
        if status["state"] == "FAILED" and not any(r.state == "failed" for r in report.results.values()):
            raise BuildFailed(f"stream task {task_id} failed: {status.get('fault')} ({self.profile.task_url(task_id)})")
        return report

    def store(self, job: StreamJob, store: ResultStore, name: str, key: str,
              files: Sequence[Tuple[int, str, Optional[int]]], url: str) -> Any:
        """Download ``(task id, output path, size)`` files into the result store under ``key``."""
        staged = job.workdir.tmp(f"koji-{name}-")
        local = []
        for task_id, rel, size in files:
            dest = os.path.join(staged, os.path.basename(rel))
            self.connect().download_task_output(task_id, rel, dest, size if size is not None and size >= 0 else None)
            local.append(dest)
        with open(os.path.join(staged, "build.log"), "w", encoding="utf-8") as handle:
            handle.write(f"built by Koji: {url}\n")
        return store.put(name, key, staged, local, None, 0.0)

    # -- other commands -------------------------------------------------------------------

    def recorded(self, job_workdir: Any) -> Dict[str, Any]:
        data = KojiState(job_workdir.path(STATE_FILE)).read()
        if not data.get("mode"):
            raise InputError(f"nothing was submitted to Koji from {job_workdir.root} (no {STATE_FILE})")
        return data

    def status(self, workdir: Any) -> Dict[str, Any]:
        data = self.recorded(workdir)
        session = self.connect()
        if data["mode"] == "plugin":
            if not data.get("task_id"):
                raise InputError("the last submit got no answer; run the build again to recover its task")
            return dict(session.call(f"{NAMESPACE}.status", data["task_id"]))
        tasks = data.get("tasks", {})
        infos = self.poll([("getTaskInfo", (tid,), {}) for tid in tasks.values()])
        names = {v: k for k, v in foreign().TASK_STATES.items()}
        return {"mode": "sidetag", "sidetag": data.get("sidetag"), "components": [
            {"name": n, "task_id": t, "state": names.get(i.get("state")) if isinstance(i, dict) else str(i)}
            for (n, t), i in zip(tasks.items(), infos)]}

    def cancel(self, workdir: Any) -> Dict[str, Any]:
        data = self.recorded(workdir)
        session = self.connect()
        if data["mode"] == "plugin":
            if not data.get("task_id"):
                raise InputError("the last submit got no answer; nothing known to cancel")
            return dict(session.call(f"{NAMESPACE}.cancel", data["task_id"]))
        tasks = list(data.get("tasks", {}).values())
        self.poll([("cancelTask", (tid,), {}) for tid in tasks])
        if data.get("sidetag"):
            session.call("removeSideTag", data["sidetag"])
        return {"mode": "sidetag", "canceled": tasks, "removed": data.get("sidetag")}

    def list(self, user: Optional[str] = None) -> List[Mapping[str, Any]]:
        session = self.connect()
        if f"{NAMESPACE}.list" not in session.methods():
            raise EnvironmentProblem(f"{self.profile.server} has no streambuild hub plugin")
        return list(session.call(f"{NAMESPACE}.list", user or self.user))


