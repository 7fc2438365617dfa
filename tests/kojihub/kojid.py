"""The test hub's builder: takes FREE tasks the way kojid does and runs their handlers.

Every task runs a ``koji.tasks.BaseTaskHandler`` with its own logged-in host session
over XML-RPC, in a thread (kojid forks; the handlers here wait by polling instead of
``signal.pause``):

- ``streamBuild``: the REAL builder plugin (``koji_hub_plugin/streambuild_builder.py``,
  loaded with ``koji.plugin.PluginTracker`` as kojid loads plugins);
- ``waitrepo``: Koji's own ``koji.tasks.WaitrepoTask`` (``RepoWatcher``), polling every
  0.1 s instead of 60 s;
- ``build``: a double of kojid's BuildTask: the ``build_from_srpm`` (non-scratch builds
  from an SRPM) and ``build_rpm`` policies asserted through ``host.assertPolicy``, the
  buildroot repo through Koji's ``BaseTaskHandler.getRepo`` (``RepoWatcher``, a
  ``waitrepo`` subtask when there is none yet, ``wait_builds``), the package list of the
  destination tag for builds that are not scratch ("package X not in list for tag Y"),
  a ``buildArch`` subtask, then the import and tagging of draft and regular builds;
- ``buildArch``: the buildroot is what the repo's merged metadata lists (:func:`.repos.repo_packages`:
  tagged builds and external repos, as mergerepo_c left them); sources from the SCM URL
  (stream-build's source preparation with this builder's lookaside, as kojid's
  ``source_cmd``) or an uploaded SRPM; rpmbuild through stream-build's ``local`` backend
  (``BuildJob``/``backend.build()``), which checks BuildRequires against that buildroot;
- ``newRepo``/``createrepo``: :mod:`.newrepo` (createrepo_c and mergerepo_c).

``instant`` maps component names to prebuilt RPMs: such builds only copy them (benchmarks).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import threading
import time
import traceback
import types
import xmlrpc.client
from typing import Any, Dict, List, Mapping, Optional

import koji
import koji.daemon
import koji.plugin
import koji.tasks

from streambuild.backends import BuildJob
from streambuild.backends.local import LocalBackend
from streambuild.base import parse_base
from streambuild.lock import LockedComponent
from streambuild.manifest import Component
from streambuild.sources import prepare
from streambuild.workdir import WorkDir

from . import newrepo, repos
from .state import TASK, Hub

#: A fresh module prefix per loaded plugin set (an object id can be reused once freed).
_TRACKERS = itertools.count()

POLL = 0.05


class PollingWait:
    """``BaseTaskHandler.wait`` without signals: kojid wakes its forked tasks with SIGUSR2."""

    def wait(self, subtasks: Any = None, all: bool = False, failany: bool = False, canfail: Any = None,  # noqa: A002
             timeout: Optional[float] = None) -> Dict[int, Any]:
        if isinstance(subtasks, int):
            subtasks = [subtasks]
        session = self.session  # type: ignore[attr-defined]
        session.host.taskSetWait(self.id, subtasks)  # type: ignore[attr-defined]
        while True:
            finished, unfinished = session.host.taskWait(self.id)  # type: ignore[attr-defined]
            if not unfinished or (finished and not all):
                break
            time.sleep(POLL)
        return dict(session.host.taskWaitResults(self.id, subtasks if all else finished, canfail=canfail))  # type: ignore[attr-defined]


class QuickWaitrepoTask(koji.tasks.WaitrepoTask):
    """Koji's own waitrepo task, checking every 0.1 s (kojid: every minute) for up to 3 minutes."""

    PAUSE = 0.1
    TIMEOUT = 3


class BuildTask(PollingWait, koji.tasks.BaseTaskHandler):
    Methods = ["build"]

    def handler(self, src: str, target: str, opts: Optional[Dict[str, Any]] = None) -> None:
        opts = opts or {}
        hub: Hub = self.options.hub
        info = self.session.getTaskInfo(self.id)
        target_info = self.session.getBuildTarget(target)
        if not target_info:
            raise koji.GenericError("unknown build target: %s" % target)
        scm = koji.daemon.SCM.is_scm_url(src)
        data = {"user_id": info["owner"], "source": src, "task_id": self.id, "build_tag": target_info["build_tag"],
                "skip_tag": False, "scratch": opts.get("scratch"), "draft": opts.get("draft"), "from_scm": scm,
                "repo_id": None, "target": target_info["name"], "tag": target_info["dest_tag"]}
        if not scm and not opts.get("scratch"):
            self.session.host.assertPolicy("build_from_srpm", data)
        self.session.host.assertPolicy("build_rpm", data)
        repo = self.getRepo(target_info["build_tag"], builds=opts.get("wait_builds"), wait=opts.get("wait_repo"))
        name = package_name(src)
        config = self.session.getPackageConfig(target_info["dest_tag"], name)
        if not opts.get("scratch"):
            if config is None:
                raise koji.BuildError("package %s not in list for tag %s" % (name, target_info["dest_tag_name"]))
            if config["blocked"]:
                raise koji.BuildError("package %s is blocked for tag %s" % (name, target_info["dest_tag_name"]))
        child = self.session.host.subtask(method="buildArch", arglist=[src, target_info["build_tag"], "noarch", True,
                                                                      {"repo_id": repo["id"]}],
                                          label="noarch", parent=self.id, arch="noarch")
        result = self.wait(child)[child]
        if not opts.get("scratch"):
            with hub.lock:
                build_id = import_build(hub, hub.tasks[self.id], result, bool(opts.get("draft")))
                hub.tag_build(target_info["dest_tag"], build_id)


class BuildArchTask(PollingWait, koji.tasks.BaseTaskHandler):
    Methods = ["buildArch"]

    def handler(self, pkg: str, root: Any, arch: str, keep_srpm: bool, opts: Optional[Dict[str, Any]] = None) -> Any:
        opts = opts or {}
        hub: Hub = self.options.hub
        with hub.lock:
            repo = dict(hub.repos[opts["repo_id"]])
            tag = hub.tags[repo["tag_id"]]
            macros = {k[len("rpm.macro."):]: str(v) for k, v in hub.build_config(tag["id"])["extra"].items()
                      if k.startswith("rpm.macro.")}
        br_arch = repos.repo_arches(tag)[0]
        out_dir = hub.task_dir(self.id)
        os.makedirs(out_dir, exist_ok=True)
        buildroot = repos.repo_packages(hub, repo, br_arch, os.path.join(self.options.workdir, "external-cache"))
        with open(os.path.join(out_dir, "root.log"), "w", encoding="utf-8") as handle:
            handle.write(f"buildroot repo {repo['id']} ({repo['tag_name']}, {br_arch}):\n")
            handle.write("".join(f"  {os.path.basename(p)}\n" for p in buildroot))
        name = package_name(pkg)
        log = os.path.join(out_dir, "build.log")
        scratch = tempfile.mkdtemp(prefix=f"buildarch-{self.id}-", dir=self.options.workdir)
        try:
            if name in self.options.instant:
                for path in self.options.instant[name]:
                    shutil.copyfile(path, os.path.join(out_dir, os.path.basename(path)))
                with open(log, "w", encoding="utf-8") as handle:
                    handle.write("instant build\n")
            else:
                spec, source_dir = self._sources(pkg, scratch)
                job = BuildJob(name, spec, source_dir, tuple(sorted(macros.items())), tuple(buildroot),
                               os.path.join(scratch, "work"), out_dir, log, self.options.base)
                os.makedirs(job.work_dir, exist_ok=True)
                if not LocalBackend().build(job).ok:
                    raise koji.BuildError("error building package (arch noarch), mock exited with status 1; "
                                          "see build.log for more information")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        files = sorted(os.listdir(out_dir))
        rel = koji.pathinfo.taskrelpath(self.id)
        return {"rpms": [f"{rel}/{f}" for f in files if f.endswith(".rpm") and not f.endswith(".src.rpm")],
                "srpms": [f"{rel}/{f}" for f in files if f.endswith(".src.rpm")],
                "logs": [f"{rel}/build.log", f"{rel}/root.log"], "brootid": None}

    def _sources(self, src: str, scratch: str) -> tuple:
        """A spec and its sources: an SCM checkout (plus lookaside), or an uploaded SRPM unpacked."""
        if "#" in src:
            url, commit = src.split("#", 1)
            url = url[len("git+"):] if url.startswith("git+") else url
            name = package_name(src)
            comp = Component(name, commit, "dist-git", url[: -len(f"{name}.git")], lookaside=self.options.lookaside)
            locked = LockedComponent(name, "dist-git", url, commit, commit, commit)
            prepared = prepare(comp, locked, WorkDir(os.path.join(self.options.workdir, "sources")))
            return prepared.spec_path, prepared.directory
        path = os.path.join(self.options.hub.topdir, "work", src)
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


class NewRepoTask(PollingWait, koji.tasks.BaseTaskHandler):
    Methods = ["newRepo"]

    def handler(self, tag: Any, event: Any = None, src: Any = None, debuginfo: Any = None, separate_src: Any = None,
                opts: Any = None) -> List[int]:
        hub: Hub = self.options.hub
        with hub.lock:
            task = dict(hub.tasks[self.id])
        return newrepo.new_repo(hub, task, self.options.workdir, self.options.host_id, self.options.repo_delay)


def package_name(src: str) -> str:
    if "#" in src:
        return src.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1][: -len(".git")]
    return koji.parse_NVRA(os.path.basename(src)[: -len(".rpm")])["name"]


def import_build(hub: Hub, task: Mapping[str, Any], result: Mapping[str, Any], draft: bool) -> int:
    """host.initBuild + completeBuild: a real build (draft: with its ``,draft_<id>`` release).

    The RPMs move to ``packages/<name>/<version>/<release>/<arch>/`` as Koji keeps them.
    """
    srpm = os.path.basename(result["srpms"][0]) if result["srpms"] else None
    if srpm is None:
        raise koji.BuildError("no SRPM to import")
    nvra = koji.parse_NVRA(srpm[: -len(".rpm")])
    build_id = hub.next_id("build")
    release = nvra["release"] + (f",draft_{build_id}" if draft else "")
    nvr = f"{nvra['name']}-{nvra['version']}-{release}"
    if not draft and any(b["nvr"] == nvr for b in hub.builds.values()):
        raise koji.GenericError("Build already exists: %s" % nvr)
    paths, rpms = [], []
    for rel in result["rpms"]:
        info = koji.parse_NVRA(os.path.basename(rel)[: -len(".rpm")])
        dest = os.path.join(hub.topdir, "packages", nvra["name"], nvra["version"], release, info["arch"],
                            os.path.basename(rel))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(os.path.join(hub.topdir, "work", rel), dest)
        paths.append(dest)
        rpms.append(dict(info, build_id=build_id, path=dest))
    hub.builds[build_id] = {
        "id": build_id, "build_id": build_id, "name": nvra["name"], "package_name": nvra["name"],
        "version": nvra["version"], "release": release, "epoch": None, "nvr": nvr, "draft": draft,
        "state": koji.BUILD_STATES["COMPLETE"], "task_id": task["id"], "owner_id": task["owner"],
        "owner_name": hub.users[task["owner"]]["name"], "rpm_paths": paths, "rpms": rpms,
        "creation_ts": task["create_ts"], "completion_ts": time.time(),
    }
    return build_id


class Kojid:
    def __init__(self, hub: Hub, api: Any, url: str, user: str, password: str, plugin_dir: str, workdir: str,
                 lookaside: Optional[str] = None, capacity: int = 2, serverca: Optional[str] = None,
                 instant: Optional[Mapping[str, List[str]]] = None, base: str = "fedora-44-x86_64",
                 repo_delay: float = 0.0) -> None:
        self.hub, self.api, self.url = hub, api, url
        self.user, self.password = user, password
        self.workdir = workdir
        self.capacity = capacity
        self.serverca = serverca
        self.host_id = hub.get_user(user, strict=True)["id"]
        self.options = types.SimpleNamespace(workdir=workdir, topurl=None, topdir=hub.topdir, hub=hub,
                                             lookaside=lookaside, instant=dict(instant or {}), base=parse_base(base),
                                             host_id=self.host_id, repo_delay=repo_delay)
        self.tracker = koji.plugin.PluginTracker(path=plugin_dir, prefix=f"_testkojid_{next(_TRACKERS)}_")
        self.plugin = self.tracker.load("streambuild_builder")
        self.handlers: Dict[str, Any] = {m: cls for cls in vars(self.plugin).values()
                                         if isinstance(cls, type) and issubclass(cls, koji.tasks.BaseTaskHandler)
                                         for m in getattr(cls, "Methods", [])}
        for cls in (BuildTask, BuildArchTask, NewRepoTask, QuickWaitrepoTask):
            self.handlers.update({m: cls for m in cls.Methods})
        self.running: Dict[int, threading.Thread] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="test-kojid", daemon=True)
        self.errors: List[str] = []
        self.task_sessions: Dict[int, int] = {}  # task id -> the session its handler used

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        with self.hub.lock:
            for task in self.hub.tasks.values():  # as a stopped kojid's tasks: nothing more happens
                if task["state"] in (TASK["FREE"], TASK["OPEN"]):
                    self.hub.cancel_task(task["id"], recurse=False)
            self.hub.task_added.notify_all()
        self.thread.join(10)
        for thread in list(self.running.values()):
            thread.join(5)  # a handler still waiting gives up at its next call to the stopped hub

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
        busy = sum(1 for tid in self.running if self.hub.tasks[tid]["method"] == "buildArch"
                   and self.hub.tasks[tid]["state"] == TASK["OPEN"])
        for task in sorted(self.hub.tasks.values(), key=lambda t: (t["priority"], t["id"])):
            if task["state"] != TASK["FREE"] or task["method"] not in self.handlers:
                continue
            if task["method"] == "buildArch" and busy >= self.capacity:
                continue
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
            task.update(state=TASK["OPEN"], host_id=self.host_id, start_time=stamp, start_ts=time.time())
            return task
        return None

    def _run(self, task: Dict[str, Any]) -> None:
        try:
            state, value = "CLOSED", ("ok", self._handler(task))
        except (koji.GenericError, xmlrpc.client.Fault) as exc:
            state, value = "FAILED", ("fault", (getattr(exc, "faultCode", 1), str(exc)))
        except Exception as exc:  # noqa: BLE001 - kojid reports any exception as the task's fault
            if not self.stopping.is_set():  # after stop, the hub going away is no error of the task
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
        session = self._session()
        self.task_sessions[task["id"]] = int(session.sinfo["session-id"])
        try:
            handler = cls(task["id"], task["method"], task["request"], session, self.options)
            return handler.run()
        finally:
            session.logout()
