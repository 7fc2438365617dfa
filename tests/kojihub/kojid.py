"""The test hub's builder: takes FREE tasks the way kojid does and runs them.

- ``streamBuild`` runs the REAL builder plugin (``koji_hub_plugin/streambuild_builder.py``,
  loaded with ``koji.plugin.PluginTracker`` like kojid loads plugins): its
  ``StreamBuildTask`` handler is constructed as kojid constructs handlers and talks to
  the hub over XML-RPC with its own host session (password login), uploads with
  ``fastUpload``, waits with ``host.taskWait`` and ``koji.util.RepoWatcher``.
- ``build`` is a double of kojid's BuildTask + BuildArchTask: sources from the SCM URL
  (stream-build's own source preparation, with the lookaside this builder is
  configured with, as kojid's ``source_cmd``) or from an uploaded SRPM; the buildroot is
  the build tag's newest repo (tagged builds and external repos merged); rpmbuild
  through stream-build's ``local`` backend, which checks BuildRequires against exactly
  that buildroot. Outputs land in a ``buildArch`` child task's directory. Draft and
  regular builds are imported and tagged into the target's destination tag; scratch
  builds are not. ``wait_builds`` waits for the NVRs to be in a repo of the build tag.

``instant`` maps component names to prebuilt RPMs: such builds only copy them (benchmarks).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
import traceback
import types
from typing import Any, Dict, List, Mapping, Optional

import koji
import koji.plugin

from streambuild.backends import BuildJob
from streambuild.backends.local import LocalBackend
from streambuild.base import parse_base
from streambuild.lock import LockedComponent
from streambuild.manifest import Component
from streambuild.sources import prepare
from streambuild.workdir import WorkDir

from .state import TASK, Hub

WAIT_TIMEOUT = 180.0


class Kojid:
    def __init__(self, hub: Hub, api: Any, url: str, user: str, password: str, plugin_dir: str, workdir: str,
                 lookaside: Optional[str] = None, capacity: int = 2, serverca: Optional[str] = None,
                 instant: Optional[Mapping[str, List[str]]] = None, base: str = "fedora-44-x86_64") -> None:
        self.hub, self.api, self.url = hub, api, url
        self.user, self.password = user, password
        self.workdir = workdir
        self.lookaside = lookaside
        self.capacity = capacity
        self.serverca = serverca
        self.instant = dict(instant or {})
        self.base = parse_base(base)
        self.host_id = hub.get_user(user, strict=True)["id"]
        self.tracker = koji.plugin.PluginTracker(path=plugin_dir, prefix=f"_testkojid_{id(self)}_")
        self.plugin = self.tracker.load("streambuild_builder")
        self.handlers = {m: cls for cls in vars(self.plugin).values()
                         if isinstance(cls, type) and issubclass(cls, koji.tasks.BaseTaskHandler)
                         for m in getattr(cls, "Methods", [])}
        self.running: Dict[int, threading.Thread] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="test-kojid", daemon=True)
        self.errors: List[str] = []

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        with self.hub.lock:
            self.hub.task_added.notify_all()
        self.thread.join(10)
        for thread in list(self.running.values()):
            thread.join(30)

    # -- the task manager ---------------------------------------------------------------

    def _loop(self) -> None:
        while not self.stopping.is_set():
            with self.hub.lock:
                task = self._take()
                if task is None:
                    self.hub.task_added.wait(0.2)
                    continue
            thread = threading.Thread(target=self._run, args=(task,), name=f"task-{task['id']}", daemon=True)
            self.running[task["id"]] = thread
            thread.start()

    def _take(self) -> Optional[Dict[str, Any]]:
        builds = sum(1 for tid in self.running if self.hub.tasks[tid]["method"] == "build"
                     and self.hub.tasks[tid]["state"] == TASK["OPEN"])
        for task in sorted(self.hub.tasks.values(), key=lambda t: (t["priority"], t["id"])):
            if task["state"] != TASK["FREE"]:
                continue
            if task["method"] == "build" and builds >= self.capacity:
                continue
            if task["method"] not in ("build",) and task["method"] not in self.handlers:
                continue
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
            task.update(state=TASK["OPEN"], host_id=self.host_id, start_time=stamp, start_ts=time.time())
            return task
        return None

    def _run(self, task: Dict[str, Any]) -> None:
        try:
            if task["method"] == "build":
                result = self._build(task)
            else:
                result = self._handler(task)
            state, value = "CLOSED", ("ok", result)
        except koji.GenericError as exc:
            state, value = "FAILED", ("fault", (exc.faultCode, str(exc)))
        except Exception as exc:  # noqa: BLE001 - kojid reports any exception as the task's fault
            self.errors.append(traceback.format_exc())
            state, value = "FAILED", ("fault", (1, f"{type(exc).__name__}: {exc}"))
        with self.hub.lock:
            self.hub.close_task(task["id"], state, value)
            self.running.pop(task["id"], None)

    def _session(self) -> koji.ClientSession:
        opts: Dict[str, Any] = {"use_fast_upload": True, "user": self.user, "password": self.password,
                                "max_retries": 3, "retry_interval": 0.2, "anon_retry": True}
        if self.serverca:
            opts["serverca"] = self.serverca
        session = koji.ClientSession(self.url, opts)
        session.login()
        return session

    def _handler(self, task: Dict[str, Any]) -> Any:
        cls = self.handlers[task["method"]]
        options = types.SimpleNamespace(workdir=self.workdir, topurl=None, topdir=self.hub.topdir)
        session = self._session()
        try:
            handler = cls(task["id"], task["method"], task["request"], session, options)
            return handler.run()
        finally:
            session.logout()

    # -- the build task double --------------------------------------------------------------

    def _build(self, task: Dict[str, Any]) -> Any:
        src, target, opts = (list(task["request"]) + [None, None])[:3]
        opts = opts or {}
        with self.hub.lock:
            tinfo = self.hub.get_build_target(target)
            if not tinfo:
                raise koji.GenericError("unknown build target: %s" % target)
            child = self.hub.make_task("buildArch", [src, tinfo["build_tag"], "noarch", True, {}],
                                       parent=task["id"], label="noarch", arch="noarch")
            self.hub.tasks[child].update(state=TASK["OPEN"], host_id=self.host_id)
        try:
            repo = self._repo(tinfo["build_tag"], opts.get("wait_builds") or [])
            result = self._build_arch(task, child, src, tinfo, repo)
        except koji.GenericError as exc:
            with self.hub.lock:
                self.hub.close_task(child, "FAILED", ("fault", (exc.faultCode, str(exc))))
            raise
        with self.hub.lock:
            self.hub.close_task(child, "CLOSED", ("ok", result))
            if not opts.get("scratch"):
                self._import(task, child, result, tinfo, bool(opts.get("draft")))
        return None

    def _repo(self, tag_id: int, nvrs: List[str]) -> Dict[str, Any]:
        """The newest repo of the build tag that has ``nvrs`` (kojid's getRepo with wait_builds)."""
        deadline = time.time() + WAIT_TIMEOUT
        wanted = [koji.parse_NVR(n) for n in nvrs]
        min_event = None
        while time.time() < deadline and not self.stopping.is_set():
            with self.hub.lock:
                tagged = {(b["name"], b["version"], b["release"]) for b in self.hub.latest_builds(tag_id)}
                if all((w["name"], w["version"], w["release"]) in tagged for w in wanted):
                    if min_event is None:
                        min_event = self.hub.tags[tag_id]["last_change"]
                    repo = self.hub.latest_repo(tag_id)
                    if repo and repo["create_event"] >= min_event:
                        return repo
                    active = [r for r in self.hub.requests_q.values() if r["tag_id"] == tag_id and r["active"]]
                    if not active:
                        self._request_repo(tag_id, min_event)
            time.sleep(0.05)
        raise koji.GenericError("Unsuccessfully waited for %s in a repo of tag %s" % (", ".join(nvrs) or "a repo", tag_id))

    def _request_repo(self, tag_id: int, min_event: int) -> None:
        from koji.context import context

        from .state import Session

        context.session = Session(self.hub, user_id=self.host_id)
        try:
            self.api.repo_request(tag_id, min_event=min_event)
        finally:
            context._threadclear()

    def _build_arch(self, task: Dict[str, Any], child: int, src: str, tinfo: Mapping[str, Any],
                    repo: Mapping[str, Any]) -> Dict[str, Any]:
        out_dir = self.hub.task_dir(child)
        os.makedirs(out_dir, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix=f"build-{task['id']}-", dir=self.workdir)
        log = os.path.join(out_dir, "build.log")
        try:
            name = self._name_of(src)
            if name in self.instant:
                for path in self.instant[name]:
                    shutil.copyfile(path, os.path.join(out_dir, os.path.basename(path)))
                with open(log, "w") as handle:
                    handle.write("instant build\n")
            else:
                spec, source_dir = self._sources(src, scratch)
                macros = self._macros(tinfo["build_tag"])
                job = BuildJob(name, spec, source_dir, tuple(sorted(macros.items())), tuple(repo.get("rpms", [])),
                               os.path.join(scratch, "work"), out_dir, log, self.base)
                os.makedirs(job.work_dir, exist_ok=True)
                outcome = LocalBackend().build(job)
                if not outcome.ok:
                    raise koji.BuildError("error building package (arch noarch), mock exited with status 1; "
                                          "see build.log for more information")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        files = sorted(os.listdir(out_dir))
        rel = koji.pathinfo.taskrelpath(child)
        return {"rpms": [f"{rel}/{f}" for f in files if f.endswith(".rpm") and not f.endswith(".src.rpm")],
                "srpms": [f"{rel}/{f}" for f in files if f.endswith(".src.rpm")],
                "logs": [f"{rel}/build.log"], "brootid": repo["id"]}

    @staticmethod
    def _name_of(src: str) -> str:
        if "#" in src:
            return src.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1][: -len(".git")]
        return koji.parse_NVRA(os.path.basename(src)[: -len(".rpm")])["name"]

    def _sources(self, src: str, scratch: str) -> tuple:
        """A spec and its sources: an SCM checkout (plus lookaside), or an uploaded SRPM unpacked."""
        if "#" in src:
            url, commit = src.split("#", 1)
            url = url[len("git+"):] if url.startswith("git+") else url
            name = self._name_of(src)
            comp = Component(name, commit, "dist-git", url[: -len(f"{name}.git")], lookaside=self.lookaside)
            locked = LockedComponent(name, "dist-git", url, commit, commit, commit)
            prepared = prepare(comp, locked, WorkDir(os.path.join(self.workdir, "sources")))
            return prepared.spec_path, prepared.directory
        path = os.path.join(self.hub.topdir, "work", src)
        if ".." in src.split("/") or not os.path.isfile(path):
            raise koji.GenericError("No such file: %s" % src)
        top = os.path.join(scratch, "srpm")
        os.makedirs(os.path.join(top, "db"))
        proc = subprocess.run(["rpm", "--define", f"_topdir {top}", "--dbpath", os.path.join(top, "db"),
                               "-i", "--nodeps", "--", path], capture_output=True, text=True)
        if proc.returncode != 0:
            raise koji.BuildError("cannot unpack %s: %s" % (src, proc.stderr.strip()))
        specs = [f for f in os.listdir(os.path.join(top, "SPECS")) if f.endswith(".spec")]
        return os.path.join(top, "SPECS", specs[0]), os.path.join(top, "SOURCES")

    def _macros(self, tag_id: int) -> Dict[str, str]:
        macros: Dict[str, str] = {}
        with self.hub.lock:
            for tid in reversed(self.hub.chain(tag_id)):
                for key, value in self.hub.tags[tid]["extra"].items():
                    if key.startswith("rpm.macro."):
                        macros[key[len("rpm.macro."):]] = str(value)
        return macros

    def _import(self, task: Dict[str, Any], child: int, result: Mapping[str, Any], tinfo: Mapping[str, Any],
                draft: bool) -> None:
        """host.completeBuild + tagBuild: a real build (draft: with its ``,draft_<id>`` release)."""
        srpm = os.path.basename(result["srpms"][0]) if result["srpms"] else None
        if srpm is None:
            raise koji.BuildError("no SRPM to import")
        nvra = koji.parse_NVRA(srpm[: -len(".rpm")])
        build_id = self.hub.next_id("build")
        release = nvra["release"] + (f",draft_{build_id}" if draft else "")
        nvr = f"{nvra['name']}-{nvra['version']}-{release}"
        if not draft and any(b["nvr"] == nvr for b in self.hub.builds.values()):
            raise koji.GenericError("Build already exists: %s" % nvr)
        paths = [os.path.join(self.hub.topdir, "work", r) for r in result["rpms"]]
        rpms = [dict(koji.parse_NVRA(os.path.basename(p)[: -len(".rpm")]), build_id=build_id, path=p) for p in paths]
        self.hub.builds[build_id] = {
            "id": build_id, "build_id": build_id, "name": nvra["name"], "package_name": nvra["name"],
            "version": nvra["version"], "release": release, "epoch": None, "nvr": nvr, "draft": draft,
            "state": koji.BUILD_STATES["COMPLETE"], "task_id": task["id"], "owner_id": task["owner"],
            "owner_name": self.hub.users[task["owner"]]["name"], "rpm_paths": paths, "rpms": rpms,
        }
        self.hub.tag_build(tinfo["dest_tag"], build_id)
