"""The ``koji`` backend on hubs without the streambuild plugin: a side tag and draft builds.

Draft builds (Koji >= 1.34) are real builds with a unique ``,draft_<id>`` release suffix;
built with the side tag as target they are tagged into it, so later builds see them
once the side tag's repo is regenerated. This client drives the chain itself:

1. ``createSideTag(<build tag of the target>)`` (recovered with ``listSideTags`` when the
   answer is lost: the call is not idempotent);
2. each component, as soon as what it needs is built, is submitted with
   ``build(src, <side tag>, {'draft': True, 'wait_builds': [<NVRs it needs>]})``: the
   builder waits until those NVRs are in the side tag's repo (a lost answer is recovered
   with ``listTasks``: same source, same target);
3. one multicall per poll asks ``getTaskInfo`` and ``listBuilds(taskID=...)`` of every
   running build;
4. the RPMs of each build are downloaded from its ``buildArch`` subtasks' output.

Koji's reasons reach the user: before anything is created, the build tag's package list
is checked (draft builds, like every build that is not scratch, are refused by kojid for
a package not on the destination tag's list; the side tag inherits the build tag's), and
the missing packages are named with the ``koji add-pkg`` an admin must run. A failed
build is reported with Koji's fault text and the end of its most telling log
(``build.log``, ``root.log``, ``checkout.log`` of the failed subtask).

dist-git components build from their SCM URL at the locked commit; upstream-git
components from an SRPM made here and uploaded (the hub's ``build_from_srpm`` policy
must allow that for draft builds). The side tag is kept (``koji remove-sidetag``, or
``stream-build koji cancel``, removes it).
"""

from __future__ import annotations

import base64
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import scheduler
from ..build import BuildReport, ComponentResult, StreamJob
from ..errors import CallUncertain, InputError, PolicyDenied
from ..results import ResultStore
from . import foreign, hubapi
from .keys import build_srpm, stream_key

_FINISHED = {"CLOSED", "FAILED", "CANCELED"}
LOGS = ("build.log", "root.log", "checkout.log", "mergerepos.log", "createrepo.log")
TAIL_BYTES = 16384
TAIL_LINES = 40


def package_list_hint(names: List[str], tag: str, user: Optional[str]) -> str:
    """What a Koji admin must run so that ``tag`` (and side tags of it) may build ``names``."""
    return f"a Koji admin must add them: koji add-pkg --owner {user or '<owner>'} {tag} {' '.join(names)}"


class SidetagBuild:
    def __init__(self, backend: Any, job: StreamJob, target: str, keys: Mapping[str, str]) -> None:
        self.backend = backend
        self.job = job
        self.target = target
        self.keys = keys
        self.session = backend.connect()
        self.state_names = {v: k for k, v in foreign().TASK_STATES.items()}
        self.tasks: Dict[str, int] = {}
        self.nvrs: Dict[str, str] = {}
        self.record: Dict[str, Any] = {}

    def say(self, line: str) -> None:
        self.backend.say(line)

    def _save(self) -> None:
        self.backend.state(self.job).write({**self.record, "tasks": self.tasks, "nvrs": self.nvrs})

    def create_sidetag(self, build_tag: str) -> str:
        mine = {"basetag": build_tag, "user": self.backend.user}
        before = {t["name"] for t in self.session.call("listSideTags", **mine)}
        for _attempt in range(3):
            try:
                return str(self.session.call("createSideTag", build_tag, retry=False)["name"])
            except CallUncertain as exc:
                self.say(f"createSideTag: {exc}; looking for the side tag it may have made")
                time.sleep(self.backend.profile.retry_interval)
                new: List[str] = sorted({t["name"] for t in self.session.call("listSideTags", **mine)} - before)
                if len(new) == 1:
                    return new[0]
        raise InputError(f"cannot create a side tag of {build_tag} on {self.backend.profile.server}")

    def submit(self, name: str, src: str, opts: Mapping[str, Any]) -> int:
        for _attempt in range(3):
            try:
                return int(self.session.call("build", src, self.record["sidetag"], dict(opts), retry=False))
            except CallUncertain as exc:
                self.say(f"{name}: build: {exc}; looking for the task it may have made")
                time.sleep(self.backend.profile.retry_interval)
                found = self._find_task(src)
                if found is not None:
                    return found
        raise InputError(f"component {name}: cannot submit its build to {self.backend.profile.server}")

    def _find_task(self, src: str) -> Optional[int]:
        opts = {"owner": self.backend.user_id, "method": "build", "decode": True}
        for task in self.session.call("listTasks", opts, {"order": "-id", "limit": 50}):
            request = task.get("request") or []
            if len(request) >= 2 and request[0] == src and request[1] == self.record["sidetag"]:
                return int(task["id"])
        return None

    def sources(self) -> Dict[str, str]:

        unique_upload_dir = foreign().unique_upload_dir

        srcs: Dict[str, str] = {}
        upload_dir: Optional[str] = None
        for comp in self.job.plan.components:
            locked = self.job.lock.component(comp.name)
            if locked.type == "dist-git":
                srcs[comp.name] = hubapi.scm_url(locked.url, locked.commit)
                continue
            srpm = build_srpm(self.job, comp.name, self.job.workdir.tmp(f"koji-srpm-{comp.name}-"))
            upload_dir = upload_dir or unique_upload_dir()
            srcs[comp.name] = self.session.upload(srpm, upload_dir)
        return srcs

    def run(self) -> BuildReport:

        target_info = self.session.call("getBuildTarget", self.target)
        if not target_info:
            raise InputError(f"no such build target: {self.target} (on {self.backend.profile.server})")
        self.check_package_list(target_info["build_tag_name"])
        ident = stream_key(self.job, self.backend.profile, self.target)
        old = self.backend.state(self.job).read()
        self.record = {"mode": "sidetag", "stream": ident, "hub": self.backend.profile.server,
                       "profile": self.backend.profile_name, "target": self.target}
        if old.get("stream") == ident and old.get("mode") == "sidetag" and old.get("sidetag"):
            self.record["sidetag"] = old["sidetag"]
            self.say(f"reusing side tag {old['sidetag']}")
        else:
            self.record["sidetag"] = self.create_sidetag(target_info["build_tag_name"])
            self.say(f"side tag {self.record['sidetag']} (from {target_info['build_tag_name']})")
        self._save()
        self.job.emit({"event": "koji-sidetag", "sidetag": self.record["sidetag"]})
        srcs = self.sources()
        deps = self.job.plan.dependencies
        expected = {n: d[0] for n in deps if (d := self.job.plan.duration(n)) is not None}
        queue = scheduler.ReadyQueue(deps, scheduler.priorities(deps, expected or None))
        running: Dict[int, str] = {}
        states: Dict[str, Tuple[str, str]] = {n: ("waiting", "") for n in deps}
        stopping = False
        for name in deps:
            self.job.emit({"event": "component", "component": name, "state": "waiting"})
        while True:
            while not stopping:
                ready = queue.pop()
                if ready is None:
                    break
                closure = self.job.plan.closure(ready)
                opts = {"draft": True, "wait_builds": [self.nvrs[d] for d in closure]}
                task_id = self.submit(ready, srcs[ready], opts)
                running[task_id] = ready
                self.tasks[ready] = task_id
                self._save()
                url = self.backend.profile.task_url(task_id)
                states[ready] = ("building", url)
                self.say(f"{ready}: building {url}")
                self.job.emit({"event": "component", "component": ready, "state": "building", "task_id": task_id,
                               "url": url})
            if not running:
                break
            ids = sorted(running)
            results = self.backend.poll([("getTaskInfo", (t,), {}) for t in ids]
                                        + [("listBuilds", (), {"taskID": t}) for t in ids])
            self.job.emit({"event": "koji-poll", "requests": self.backend.polls[-1], "running": len(ids)})
            infos, builds = results[: len(ids)], results[len(ids):]
            finished = False
            for task_id, info, found in zip(ids, infos, builds):
                state = self.state_names.get(info.get("state")) if isinstance(info, dict) else None
                if state not in _FINISHED:
                    continue
                finished = True
                name = running.pop(task_id)
                if state == "CLOSED" and isinstance(found, list) and found:
                    self.nvrs[name] = found[0]["nvr"]
                    states[name] = ("done", found[0]["nvr"])
                    queue.done(name)
                    continue
                fault, tail = self.explain(task_id, state)
                states[name] = ("failed", fault)
                self.say(f"{name}: failed: {fault}")
                self.job.emit({"event": "component", "component": name, "state": "failed", "message": fault,
                               "log": self.backend.profile.task_url(task_id), "log_tail": tail})
                for skipped in sorted(queue.failed(name)):
                    states[skipped] = ("skipped", f"needs {name}, which failed")
                    self.job.emit({"event": "component", "component": skipped, "state": "skipped",
                                   "message": states[skipped][1]})
                if not self.job.keep_going:
                    stopping = True
            self._save()
            if running and not finished:
                time.sleep(self.backend.profile.poll_interval)
        return self.collect(states)

    def check_package_list(self, build_tag: str) -> None:
        """Every component on the build tag's package list (inherited), or a denial saying who must add what."""
        names = [c.name for c in self.job.plan.components]
        configs = self.backend.poll([("getPackageConfig", (build_tag, n), {}) for n in names])
        missing = [n for n, c in zip(names, configs) if c is None]
        blocked = [n for n, c in zip(names, configs) if isinstance(c, dict) and c.get("blocked")]
        problems = []
        if missing:
            problems.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on the package list "
                            f"of {build_tag}, which its side tags inherit; Koji builds no draft (or other "
                            f"non-scratch) build of a package missing from its tag's list; "
                            + package_list_hint(missing, build_tag, self.backend.user))
        if blocked:
            problems.append(f"{', '.join(blocked)} {'is' if len(blocked) == 1 else 'are'} blocked on {build_tag}: "
                            f"a Koji admin must unblock them: koji unblock-pkg {build_tag} {' '.join(blocked)}")
        if problems:
            raise PolicyDenied("; ".join(problems))

    def explain(self, task_id: int, state: str) -> Tuple[str, str]:
        """Koji's fault text of a failed build and the end of its most telling log."""
        url = self.backend.profile.task_url(task_id)
        if state == "CANCELED":
            return f"task {task_id} was canceled ({url})", ""
        fault, children = self.backend.poll([("getTaskResult", (task_id,), {}), ("getTaskChildren", (task_id,), {})])
        text = str(fault) if isinstance(fault, Exception) else f"task {task_id} {state.lower()}"
        if "not in list for tag" in text:
            name, tag = _not_in_list(text)
            text += f"; {package_list_hint([name], tag, self.backend.user)}"
        kids = [c for c in (children if isinstance(children, list) else [])]
        kids.sort(key=lambda c: (self.state_names.get(c.get("state")) != "FAILED", -int(c["id"])))
        listings = self.backend.poll([("listTaskOutput", (c["id"],), {"stat": True}) for c in kids]
                                     + [("listTaskOutput", (task_id,), {"stat": True})])
        for log in LOGS:
            for owner, listing in zip([c["id"] for c in kids] + [task_id], listings):
                size = int(listing[log]["st_size"]) if isinstance(listing, dict) and log in listing else 0
                if size:
                    (data,) = self.backend.poll([("downloadTaskOutput", (owner, log),
                                                  {"offset": -min(size, TAIL_BYTES), "size": TAIL_BYTES})])
                    if isinstance(data, str):
                        tail = base64.b64decode(data).decode("utf-8", "replace")
                        return f"{text} ({url})", f"{log} of task {owner}:\n" + "".join(tail.splitlines(True)[-TAIL_LINES:])
        return f"{text} ({url})", ""

    def collect(self, states: Mapping[str, Tuple[str, str]]) -> BuildReport:
        store = ResultStore(self.job.workdir.results)
        done = [n for n in self.job.plan.dependencies if states[n][0] == "done"]
        children = self.backend.poll([("getTaskChildren", (self.tasks[n],), {}) for n in done])
        arch_tasks: List[Tuple[str, int]] = []
        for name, kids in zip(done, children):
            arch_tasks += [(name, k["id"]) for k in (kids if isinstance(kids, list) else []) if k.get("method") == "buildArch"]
        outputs = self.backend.poll([("listTaskOutput", (t,), {"stat": True}) for _n, t in arch_tasks])
        files: Dict[str, List[Tuple[int, str, Optional[int]]]] = {n: [] for n in done}
        for (name, task_id), listing in zip(arch_tasks, outputs):
            for rel, st in (listing.items() if isinstance(listing, dict) else []):
                if rel.endswith(".rpm") and not rel.endswith(".src.rpm"):
                    files[name].append((task_id, rel, int(st.get("st_size", -1))))
        report = BuildReport()
        for comp in self.job.plan.components:
            state, detail = states[comp.name]
            key = self.keys[comp.name]
            url = self.backend.profile.task_url(self.tasks[comp.name]) if comp.name in self.tasks else ""
            if state == "done":
                stored = self.backend.store(self.job, store, comp.name, key, files[comp.name], url)
                report.results[comp.name] = ComponentResult(comp.name, "done", key, stored.rpms, None, url, detail)
                self.job.emit({"event": "component", "component": comp.name, "state": "done", "key": key,
                               "url": url, "nvr": detail})
            elif state == "waiting":
                report.results[comp.name] = ComponentResult(comp.name, "not-started", key,
                                                            message="stopped after a failure (use --keep-going)")
                self.job.emit({"event": "component", "component": comp.name, "state": "not-started"})
            else:
                report.results[comp.name] = ComponentResult(comp.name, state, key, log=url or None, message=detail)
        return report


def _not_in_list(fault: str) -> Tuple[str, str]:
    """``package X not in list for tag Y`` (kojid's BuildTask) -> (X, Y)."""
    words = fault.split("package ", 1)[-1].split()
    name = words[0] if words else "?"
    tag = fault.rsplit("for tag ", 1)[-1].split()[0].rstrip(".;,") if "for tag " in fault else "?"
    return name, tag
