"""The test hub's XML-RPC methods: Koji's names, signatures, results and faults.

Only what stream-build's client, its builder plugin (through ``koji.tasks`` and
``koji.util.RepoWatcher``) and its hub plugin use. Each method runs with the hub's lock
held (one transaction per call). Sources of truth: kojihub/kojihub.py (RootExports,
HostExports, Task), kojihub/repos.py (repo.request/checkRequest), kojihub/auth.py
(login, sslLogin, sessions), plugins/hub/sidetag_hub.py.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Callable, Dict, List, Optional, Sequence

import koji
from koji.context import context

from . import repos
from .state import TASK, Hub, adler32_hex

SIDETAG_TEMPLATE = "{basetag}-side-{tag_id}"


class HubAPI:
    """Every exported method, by its XML-RPC name (see :meth:`methods`)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.upload_hook: Optional[Callable[[str], None]] = None  # tests: runs after truncating, before writing

    def methods(self) -> Dict[str, Callable[..., Any]]:
        names = {
            "getKojiVersion": self.getKojiVersion, "getAPIVersion": self.getAPIVersion, "login": self.login, "sslLogin": self.sslLogin,
            "logout": self.logout, "getLoggedInUser": self.getLoggedInUser, "getUser": self.getUser,
            "hasPerm": self.hasPerm, "getPerms": self.getPerms, "getBuildTarget": self.getBuildTarget,
            "getTag": self.getTag, "getBuildConfig": self.getBuildConfig, "getLastEvent": self.getLastEvent,
            "tagLastChangeEvent": self.tagLastChangeEvent, "getRepo": self.getRepo, "repoInfo": self.repoInfo,
            "repo.request": self.repo_request, "repo.checkRequest": self.repo_checkRequest, "repo.get": self.repo_get,
            "getExternalRepoList": self.getExternalRepoList, "getTagExternalRepos": self.getTagExternalRepos,
            "getPackageConfig": self.getPackageConfig, "checkTagPackage": self.checkTagPackage,
            "listPackages": self.listPackages, "packageListAdd": self.packageListAdd,
            "getAverageBuildDuration": self.getAverageBuildDuration, "getLatestBuilds": self.getLatestBuilds,
            "build": self.build, "getTaskInfo": self.getTaskInfo, "getTaskResult": self.getTaskResult,
            "getTaskChildren": self.getTaskChildren, "getTaskDescendents": self.getTaskDescendents,
            "listTasks": self.listTasks, "listTaskOutput": self.listTaskOutput,
            "downloadTaskOutput": self.downloadTaskOutput, "cancelTask": self.cancelTask,
            "cancelTaskChildren": self.cancelTaskChildren, "listBuilds": self.listBuilds, "getBuild": self.getBuild,
            "listTagged": self.listTagged, "listBuildRPMs": self.listBuildRPMs, "checkUpload": self.checkUpload,
            "host.subtask": self.host_subtask, "host.taskSetWait": self.host_taskSetWait,
            "host.taskWait": self.host_taskWait, "host.taskWaitResults": self.host_taskWaitResults,
            "host.taskUnwait": self.host_taskUnwait, "host.assertPolicy": self.host_assertPolicy,
        }
        if self.hub.sidetags:
            names.update(createSideTag=self.createSideTag, removeSideTag=self.removeSideTag,
                         listSideTags=self.listSideTags)
        return names

    # -- session ---------------------------------------------------------------------------

    def getKojiVersion(self) -> str:
        return koji.__version__ if hasattr(koji, "__version__") else "1.36.1"

    def getAPIVersion(self) -> int:
        return koji.API_VERSION

    def login(self, user: str, password: str, opts: Any = None, renew: bool = False, exclusive: bool = False) -> Any:
        if context.session.logged_in and not renew:
            raise koji.AuthError("Already logged in")
        if self.hub.passwords.get(user) != password:
            raise koji.AuthError("invalid username or password")
        info = self.hub.get_user(user, strict=True)
        return self.hub.create_session(info["id"], koji.AUTHTYPES["NORMAL"])

    def sslLogin(self, proxyuser: Any = None, proxyauthtype: Any = None, renew: bool = False, exclusive: Any = None) -> Any:
        if context.session.logged_in and not renew:
            raise koji.AuthError("Already logged in")
        principal = context.environ.get("REMOTE_USER")
        if not principal:
            raise koji.AuthError("could not verify client: %s" % context.environ.get("SSL_CLIENT_VERIFY"))
        for user in self.hub.users.values():
            if principal in user["krb_principals"]:
                return self.hub.create_session(user["id"], koji.AUTHTYPES["GSSAPI"])
        raise koji.AuthError("Unknown Kerberos principal: %s" % principal)

    def logout(self, session_id: Any = None) -> None:
        if context.session.id is not None:  # kojihub closes the session row; it stays on record
            self.hub.sessions[context.session.id]["closed"] = True

    def getLoggedInUser(self) -> Optional[Dict[str, Any]]:
        return self.hub.get_user(context.session.user_id) if context.session.logged_in else None

    def getUser(self, userInfo: Any = None, strict: bool = False, krb_princs: bool = True, groups: bool = False) -> Any:
        return self.hub.get_user(userInfo, strict)

    def hasPerm(self, perm: str, strict: bool = False) -> bool:
        return context.session.hasPerm(perm)

    def getPerms(self) -> List[str]:
        return context.session.getPerms()

    # -- tags, targets, events, repos -----------------------------------------------------

    def getBuildTarget(self, info: Any, event: Any = None, strict: bool = False) -> Any:
        return self.hub.get_build_target(info, strict=strict)

    def getTag(self, tagInfo: Any, strict: bool = False, event: Any = None, blocked: bool = False) -> Any:
        return self.hub.get_tag(tagInfo, strict)

    def getLastEvent(self, before: Any = None, strict: bool = True) -> Optional[Dict[str, Any]]:
        event = self.hub.last_event(before)
        if event is None:
            if strict:
                raise koji.GenericError("Invalid event timestamp: %s" % before)
            return None
        return {"id": event, "ts": self.hub.events[event]}

    def tagLastChangeEvent(self, tag: Any) -> int:
        return self.hub.tag_last_change_event(self.hub.get_tag(tag, strict=True)["id"])

    def getBuildConfig(self, tag: Any, event: Any = None) -> Dict[str, Any]:
        return self.hub.build_config(self.hub.get_tag(tag, strict=True)["id"])

    def getRepo(self, tag: Any, state: Any = None, event: Any = None, dist: bool = False, min_event: Any = None) -> Any:
        return repos.latest_repo(self.hub, self.hub.get_tag(tag, strict=True)["id"], min_event)

    def repoInfo(self, repo_id: Any, strict: bool = False) -> Any:
        info = repos.repo_info(self.hub, int(repo_id))
        if info is None and strict:
            raise koji.GenericError("No such repo: %s" % repo_id)
        return info

    def repo_request(self, tag: Any, min_event: Any = None, at_event: Any = None, opts: Any = None,
                     priority: Any = None, force: bool = False) -> Dict[str, Any]:
        return repos.request_repo(self.hub, tag, min_event, at_event, opts, priority, force)

    def repo_checkRequest(self, req_id: Any) -> Dict[str, Any]:
        return repos.check_request(self.hub, req_id)

    def repo_get(self, tag: Any, min_event: Any = None, at_event: Any = None, opts: Any = None) -> Any:
        return repos.latest_repo(self.hub, self.hub.get_tag(tag, strict=True)["id"], min_event)

    def getExternalRepoList(self, tag_info: Any, event: Any = None) -> List[Dict[str, Any]]:
        return self.hub.external_list(self.hub.get_tag(tag_info, strict=True)["id"])

    def getTagExternalRepos(self, tag_info: Any = None, repo_info: Any = None, event: Any = None) -> List[Dict[str, Any]]:
        tag_id = self.hub.get_tag(tag_info, strict=True)["id"] if tag_info is not None else None
        return [e for tid in ([tag_id] if tag_id else list(self.hub.tags)) for e in self.hub.external_list(tid)
                if e["tag_id"] == tid]

    # -- package lists -----------------------------------------------------------------

    def getPackageConfig(self, tag: Any, pkg: Any, event: Any = None) -> Optional[Dict[str, Any]]:
        config = self.hub.package_config(self.hub.get_tag(tag, strict=True)["id"], str(pkg))
        return {k: v for k, v in config.items() if k not in ("tag_name",)} if config else None

    def checkTagPackage(self, tag: Any, pkg: Any) -> bool:
        config = self.getPackageConfig(tag, pkg)
        return bool(config) and not config["blocked"]

    def listPackages(self, tagID: Any = None, userID: Any = None, pkgID: Any = None, prefix: Any = None,
                     inherited: bool = False, with_dups: bool = False, event: Any = None, queryOpts: Any = None,
                     with_owners: bool = True, with_blocked: bool = True) -> List[Dict[str, Any]]:
        tags = list(self.hub.tags) if tagID is None else (
            self.hub.chain(self.hub.get_tag(tagID, strict=True)["id"]) if inherited else [self.hub.get_tag(tagID, strict=True)["id"]])
        out: Dict[str, Dict[str, Any]] = {}
        for tid in tags:
            for name, entry in self.hub.packages.get(tid, {}).items():
                if prefix and not name.startswith(prefix):
                    continue
                if not with_blocked and entry["blocked"]:
                    continue
                out.setdefault(name, dict(entry, tag_id=tid, tag_name=self.hub.tags[tid]["name"]))
        return sorted(out.values(), key=lambda e: e["package_name"])

    def packageListAdd(self, taginfo: Any, pkginfo: Any, owner: Any = None, block: Any = None,
                       extra_arches: Any = None, force: bool = False, update: bool = False) -> None:
        context.session.assertLogin()
        tag = self.hub.get_tag(taginfo, strict=True)
        data = {"tag": tag["id"], "action": "block" if block else "add", "package": pkginfo, "force": force,
                "user_id": context.session.user_id}
        self.hub.check_policy("package_list", data, strict=True)
        owner_id = self.hub.get_user(owner, strict=True)["id"] if owner is not None else None
        self.hub.package_list_add(tag["id"], str(pkginfo), owner_id, bool(block), extra_arches)

    def getAverageBuildDuration(self, package: Any, age: Any = None) -> Optional[float]:
        times = [b["completion_ts"] - b.get("creation_ts", b["completion_ts"]) for b in self.hub.builds.values()
                 if b["name"] == package and b["state"] == koji.BUILD_STATES["COMPLETE"] and b.get("task_id")
                 and b.get("completion_ts") is not None]
        return sum(times) / len(times) if times else None

    def getLatestBuilds(self, tag: Any, event: Any = None, package: Any = None, type: Any = None,
                        draft: Any = None) -> List[Dict[str, Any]]:
        builds = self.hub.latest_builds(self.hub.get_tag(tag, strict=True)["id"], True, event)
        return [{k: v for k, v in b.items() if k not in ("rpms", "rpm_paths")} for b in builds
                if package is None or b["name"] == package]

    # -- builds ----------------------------------------------------------------------------

    def build(self, src: str, target: str, opts: Any = None, priority: Any = None, channel: Any = None) -> int:
        context.session.assertLogin()
        if not isinstance(src, str):
            raise koji.ParameterError("Invalid type for value %r: %s" % (src, type(src)))
        opts = opts or {}
        if opts.get("scratch") and opts.get("draft"):
            raise koji.GenericError("Build cannot be both scratch and draft")
        task_opts: Dict[str, Any] = {}
        if priority:
            task_opts["priority"] = koji.PRIO_DEFAULT + priority
        if channel:
            task_opts["channel"] = channel
        return self.hub.make_task("build", [src, target, opts], **task_opts)

    def listBuilds(self, packageID: Any = None, userID: Any = None, taskID: Any = None, prefix: Any = None,
                   state: Any = None, volumeID: Any = None, source: Any = None, createdBefore: Any = None,
                   createdAfter: Any = None, completeBefore: Any = None, completeAfter: Any = None, type: Any = None,
                   typeInfo: Any = None, queryOpts: Any = None, pattern: Any = None, cgID: Any = None,
                   draft: Any = None) -> List[Dict[str, Any]]:
        out = []
        for build in self.hub.builds.values():
            if taskID is not None and build["task_id"] != taskID:
                continue
            if state is not None and build["state"] != state:
                continue
            out.append({k: v for k, v in build.items() if k != "rpm_paths"})
        return out

    def getBuild(self, buildInfo: Any, strict: bool = False) -> Any:
        for build in self.hub.builds.values():
            if buildInfo in (build["id"], build["nvr"]):
                return {k: v for k, v in build.items() if k != "rpm_paths"}
        if strict:
            raise koji.GenericError("No such build: %s" % buildInfo)
        return None

    def listTagged(self, tag: Any, event: Any = None, inherit: bool = False, prefix: Any = None, latest: bool = False,
                   package: Any = None, owner: Any = None, type: Any = None, strict: bool = True, extra: bool = False,
                   draft: Any = None) -> List[Dict[str, Any]]:
        taginfo = self.hub.get_tag(tag, strict=True)
        out = []
        for tid in (self.hub.chain(taginfo["id"]) if inherit else [taginfo["id"]]):
            for tagged_tid, bid, ev in self.hub.tagged:
                build = self.hub.builds[bid]
                if tagged_tid == tid and (event is None or ev <= event) and (package is None or build["name"] == package):
                    out.append({k: v for k, v in build.items() if k != "rpm_paths"})
        return out

    def listBuildRPMs(self, build: Any) -> List[Dict[str, Any]]:
        info = self.getBuild(build, strict=True)
        return [dict(r) for r in self.hub.builds[info["id"]].get("rpms", [])]

    # -- tasks -----------------------------------------------------------------------------

    def getTaskInfo(self, task_id: Any, request: bool = False, strict: bool = False) -> Any:
        ids = task_id if isinstance(task_id, (list, tuple)) else [task_id]
        out = []
        for tid in ids:
            info = self.hub.task_info(tid, request)
            if info is None and strict:
                raise koji.GenericError("No such task: %s" % tid)
            out.append(info)
        return out if isinstance(task_id, (list, tuple)) else out[0]

    def getTaskResult(self, taskId: int, raise_fault: bool = True) -> Any:
        return self.hub.task_result(taskId, raise_fault)

    def getTaskChildren(self, task_id: int, request: bool = False, strict: bool = False) -> List[Dict[str, Any]]:
        if strict and task_id not in self.hub.tasks:
            raise koji.GenericError("No such task: %s" % task_id)
        return [self.hub.task_info(t["id"], request) for t in self.hub.tasks.values() if t["parent"] == task_id]

    def getTaskDescendents(self, task_id: int, request: bool = False) -> Dict[str, List[Dict[str, Any]]]:
        out: Dict[str, List[Dict[str, Any]]] = {}
        todo = [task_id]
        while todo:
            tid = todo.pop()
            kids = self.getTaskChildren(tid, request)
            out[str(tid)] = kids
            todo += [k["id"] for k in kids]
        return out

    def listTasks(self, opts: Any = None, queryOpts: Any = None) -> List[Dict[str, Any]]:
        opts, queryOpts = opts or {}, queryOpts or {}
        out = []
        for task in self.hub.tasks.values():
            if "method" in opts and task["method"] != opts["method"]:
                continue
            owners = opts.get("owner")
            if owners is not None and task["owner"] not in (owners if isinstance(owners, list) else [owners]):
                continue
            if "state" in opts and task["state"] not in opts["state"]:
                continue
            if "parent" in opts and task["parent"] not in (opts["parent"] if isinstance(opts["parent"], list) else [opts["parent"]]):
                continue
            info = self.hub.task_info(task["id"], request=bool(opts.get("decode")))
            out.append(info)
        order = queryOpts.get("order", "id")
        out.sort(key=lambda t: t["id"], reverse=order.startswith("-"))
        if queryOpts.get("limit"):
            out = out[: queryOpts["limit"]]
        return out

    def listTaskOutput(self, taskID: int, stat: bool = False, all_volumes: bool = False, strict: bool = False) -> Any:
        if strict and taskID not in self.hub.tasks:
            raise koji.GenericError("Task doesn't exist")
        top = self.hub.task_dir(taskID)
        result: Any = {} if stat or all_volumes else []
        for path, _dirs, files in os.walk(top):
            for name in files:
                rel = os.path.relpath(os.path.join(path, name), top)
                if stat:
                    st = os.stat(os.path.join(path, name))
                    entry = {"st_size": str(st.st_size), "st_atime": st.st_atime, "st_mtime": st.st_mtime,
                             "st_ctime": st.st_ctime}
                    result[rel] = {"DEFAULT": entry} if all_volumes else entry
                elif all_volumes:
                    result[rel] = ["DEFAULT"]
                else:
                    result.append(rel)
        return result

    def downloadTaskOutput(self, taskID: int, fileName: str, offset: int = 0, size: int = -1, volume: Any = None) -> str:
        if ".." in fileName:
            raise koji.GenericError("Invalid file name: %s" % fileName)
        path = os.path.normpath(os.path.join(self.hub.task_dir(taskID), fileName))
        if not os.path.isfile(path):
            raise koji.GenericError('no file "%s" output by task %i' % (fileName, taskID))
        with open(path, "rb") as handle:
            offset = int(offset)
            if offset > 0:
                handle.seek(offset, 0)
            elif offset < 0:
                handle.seek(offset, 2)
            data = handle.read(int(size))
        return base64.b64encode(data).decode()

    def cancelTask(self, task_id: int, recurse: bool = True) -> None:
        task = self.hub.tasks.get(task_id)
        if task is None:
            raise koji.GenericError("No such task: %i" % task_id)
        if task["owner"] != context.session.user_id and not context.session.hasPerm("admin"):
            raise koji.ActionNotAllowed("Cannot cancel task, not owner")
        self.hub.cancel_task(task_id, recurse)

    def cancelTaskChildren(self, task_id: int) -> None:
        context.session.assertLogin()
        for task in [t for t in self.hub.tasks.values() if t["parent"] == task_id]:
            self.hub.cancel_task(task["id"])

    # -- uploads ---------------------------------------------------------------------------

    def upload_path(self, path: str, name: str) -> str:
        if path.startswith("/") or ".." in path.split("/") or "/" in name or name in ("", ".", ".."):
            raise koji.GenericError("Invalid upload directory: %s" % path)
        return os.path.join(self.hub.topdir, "work", path, name)

    def raw_upload(self, data: bytes, path: str, name: str, offset: int, overwrite: bool) -> Dict[str, Any]:
        """kojihub's handle_upload: written in place (truncated at ``offset``, then written), not atomically."""
        context.session.assertLogin()
        target = self.upload_path(path, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.exists(target) and offset == 0 and not overwrite:
            raise koji.GenericError("upload path exists: %s" % target)
        fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            os.ftruncate(fd, offset)
            os.lseek(fd, offset, 0)
            if self.upload_hook is not None:
                self.upload_hook(target)  # what a reader sees in the middle of an upload
            os.write(fd, data)
        finally:
            os.close(fd)
        return {"size": len(data), "hexdigest": adler32_hex(data)}

    def checkUpload(self, path: str, name: str, verify: Any = None, tail: Any = None, volume: Any = None) -> Any:
        target = self.upload_path(path, name)
        if not os.path.exists(target):
            return None
        with open(target, "rb") as handle:
            data = handle.read()
        result: Dict[str, Any] = {"size": len(data), "mtime": os.path.getmtime(target)}
        if verify == "adler32":
            result["hexdigest"] = adler32_hex(data)
        return result

    # -- host calls (kojid) -----------------------------------------------------------------

    def _host_task(self, task_id: int) -> Dict[str, Any]:
        task = self.hub.tasks.get(task_id)
        if task is None:
            raise koji.GenericError("No such task: %i" % task_id)
        if not self.hub.verify_host(task_id):
            raise koji.ActionNotAllowed("host %s does not own task %d" % (context.session.host_id, task_id))
        return task

    def _assert_host(self) -> None:
        if context.session.host_id is None:
            raise koji.AuthError("No host specified")

    def host_subtask(self, method: str, arglist: Sequence[Any], parent: int, **opts: Any) -> int:
        self._assert_host()
        self._host_task(parent)
        if "owner" in opts:
            raise koji.ActionNotAllowed("The owner option is not allowed here")
        opts["parent"] = parent
        if opts.get("label"):  # a retried subtask call finds the subtask it made
            for task in self.hub.tasks.values():
                if task["parent"] == parent and task["label"] == opts["label"]:
                    return task["id"]
        return self.hub.make_task(method, arglist, **opts)

    def host_assertPolicy(self, name: str, data: Any, default: str = "deny") -> None:
        self._assert_host()
        self.hub.check_policy(name, data, default, strict=True)

    def host_taskUnwait(self, parent: int) -> None:
        self._assert_host()
        self.hub.tasks[parent]["waiting"] = False
        for task in self.hub.tasks.values():
            if task["parent"] == parent:
                task["awaited"] = False

    def host_taskSetWait(self, parent: int, tasks: Any) -> None:
        self._assert_host()
        self._host_task(parent)
        self.hub.tasks[parent]["waiting"] = True
        for task in self.hub.tasks.values():
            if task["parent"] == parent:
                task["awaited"] = tasks is None or task["id"] in tasks

    def host_taskWait(self, parent: int) -> List[List[int]]:
        finished, unfinished = [], []
        for task in self.hub.tasks.values():
            if task["parent"] == parent and task["awaited"]:
                if task["state"] in (TASK["CLOSED"], TASK["FAILED"], TASK["CANCELED"]):
                    finished.append(task["id"])
                else:
                    unfinished.append(task["id"])
        for tid in finished:
            self.hub.tasks[tid]["awaited"] = False
        return [sorted(finished), unfinished]

    def host_taskWaitResults(self, parent: int, tasks: Any, canfail: Any = None) -> List[List[Any]]:
        canfail = canfail or []
        self.hub.tasks[parent]["waiting"] = False
        results = []
        for tid in tasks:
            try:
                results.append([tid, self.hub.task_result(tid, raise_fault=tid not in canfail)])
            except koji.GenericError as exc:
                if tid in canfail and self.hub.tasks[tid]["state"] == TASK["CANCELED"]:
                    results.append([tid, {"faultCode": exc.faultCode, "faultString": str(exc)}])
                    continue
                raise
        return results

    # -- side tags (plugins/hub/sidetag_hub.py) ------------------------------------------

    def createSideTag(self, basetag: Any, debuginfo: bool = False, suffix: Any = None) -> Dict[str, Any]:
        context.session.assertLogin()
        if suffix:
            raise koji.GenericError("%s suffix is not allowed for sidetag" % suffix)
        user = self.hub.get_user(context.session.user_id, strict=True)
        base = self.hub.get_tag(basetag, strict=True)
        mine = [t for t in self.hub.tags.values() if t["extra"].get("sidetag_user_id") == user["id"]]
        self.hub.check_policy("sidetag", {"tag": base["id"], "number_of_tags": len(mine)}, strict=True)
        name = SIDETAG_TEMPLATE.format(basetag=base["name"], tag_id=self.hub._ids.get("tag", 0) + 1)
        tag_id = self.hub.create_tag(name, parent=base["id"], arches=base["arches"],
                                     extra={"sidetag": True, "sidetag_user": user["name"], "sidetag_user_id": user["id"]})
        self.hub.create_target(name, tag_id, tag_id)
        return {"name": name, "id": tag_id, "task_id": None, "request": None}

    def removeSideTag(self, sidetag: Any) -> None:
        context.session.assertLogin()
        tag = self.hub.get_tag(sidetag, strict=True)
        if not tag["extra"].get("sidetag"):
            raise koji.GenericError("Not a sidetag: %(name)s" % tag)
        if tag["extra"].get("sidetag_user_id") != context.session.user_id and not context.session.hasPerm("admin"):
            raise koji.ActionNotAllowed("This is not your sidetag")
        self.hub.delete_tag(tag["id"])

    def listSideTags(self, basetag: Any = None, user: Any = None, queryOpts: Any = None) -> List[Dict[str, Any]]:
        user_id = self.hub.get_user(user, strict=True)["id"] if user is not None else None
        base_id = self.hub.get_tag(basetag, strict=True)["id"] if basetag is not None else None
        out = []
        for tag in self.hub.tags.values():
            extra = tag["extra"]
            if not extra.get("sidetag"):
                continue
            if user_id is not None and extra.get("sidetag_user_id") != user_id:
                continue
            if base_id is not None and tag["parent"] != base_id:
                continue
            out.append({"id": tag["id"], "name": tag["name"], "user_id": extra.get("sidetag_user_id"),
                        "user_name": extra.get("sidetag_user")})
        return out
