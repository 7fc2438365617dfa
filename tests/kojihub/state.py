"""The test hub's data and its operations (the subset of Koji's the client and plugins use).

Everything lives in memory behind one lock (a transaction: each call sees and leaves a
consistent hub). Names, arguments, results and faults follow Koji's hub
(``kojihub/kojihub.py``, ``kojihub/repos.py``, ``kojihub/auth.py``, Koji 1.35/1.36).
Repositories and repo requests are in :mod:`.repos`.
"""

from __future__ import annotations

import base64
import fnmatch
import os
import re
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import koji
import koji.policy
from koji.context import context

TASK = koji.TASK_STATES
BUILD = koji.BUILD_STATES
_NAME = re.compile(r"[A-Za-z0-9/_.+-]+\Z")

#: Methods a logged-in session may replay with the same call number (kojihub/auth.py).
RETRY_WHITELIST = {"host.taskWait", "host.taskUnwait", "host.taskSetWait", "host.updateHost",
                   "host.setBuildRootState", "repoExpire", "repoDelete", "repoProblem"}

#: The hub's default options that the double honours (kojihub/kojixmlrpc.py).
DEFAULT_OPTIONS = {"MissingPolicyOk": True, "RepoRetries": 3, "MaxRepoTasks": 10, "RepoLag": 3600,
                   "RepoLagWindow": 600, "RepoQueueUser": "kojira"}

#: Koji's built-in policies, used when hub.conf does not name them (kojihub/kojixmlrpc.py).
DEFAULT_POLICIES = {
    "build_rpm": "all :: allow",
    "build_from_srpm": "has_perm admin :: allow\nall :: deny Only admin can do this via default policy",
    "build_from_repo_id": "has_perm admin :: allow\nall :: deny Only admin can do this via default policy",
    "build_from_scm": "has_perm admin :: allow\nall :: deny Only admin can do this via default policy",
    "package_list": "has_perm admin :: allow\nhas_perm tag :: allow\n"
                    "all :: deny Only admin/tag can do this via default policy",
    "channel": "has req_channel :: req\nis_child_task :: parent\nall :: use default",
    "priority": "all :: stay",
}


def now() -> Tuple[str, float]:
    ts = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)), ts


@dataclass
class Session:
    """A hub session (kojihub/auth.py's Session, the attributes plugins use)."""

    hub: "Hub"
    id: Optional[int] = None
    key: Optional[str] = None
    user_id: Optional[int] = None
    callnum: Optional[int] = None
    authtype: Optional[int] = None

    @property
    def logged_in(self) -> bool:
        return self.user_id is not None

    @property
    def host_id(self) -> Optional[int]:
        """As kojihub's ``context.session.host_id``: the host of the logged-in user, else None."""
        user = self.hub.users.get(self.user_id) if self.user_id else None
        return user["id"] if user and user["usertype"] == koji.USERTYPES["HOST"] else None

    def getPerms(self) -> List[str]:
        return sorted(self.hub.perms.get(self.user_id, set())) if self.user_id else []

    def hasPerm(self, name: str) -> bool:
        perms = self.hub.perms.get(self.user_id, set()) if self.user_id else set()
        return name in perms or "admin" in perms

    def assertPerm(self, name: str) -> None:
        if not self.hasPerm(name):
            raise koji.ActionNotAllowed("%s permission required" % name)

    def assertLogin(self) -> None:
        if not self.logged_in:
            raise koji.ActionNotAllowed("you must be logged in for this operation")


class HasPermTest(koji.policy.BaseSimpleTest):
    """kojihub's ``has_perm`` policy test."""

    name = "has_perm"

    def run(self, data: Mapping[str, Any]) -> bool:
        hub = current()
        perms = hub.perms.get(data.get("user_id"), set())
        return any(fnmatch.fnmatch(p, pat) for p in perms for pat in str(self).split()[1:])


class UserTest(koji.policy.MatchTest):
    """kojihub's ``user`` policy test (matches the user's name)."""

    name = "user"

    def run(self, data: Mapping[str, Any]) -> bool:
        user = current().users.get(data.get("user_id"))
        return bool(user) and any(fnmatch.fnmatch(user["name"], p) for p in str(self).split()[1:])


class IsChildTaskTest(koji.policy.BoolTest):
    """kojihub's ``is_child_task`` policy test (Koji's default channel policy uses it)."""

    name = "is_child_task"
    field = "parent"


#: The hub's own policy tests, as kojihub offers them to every policy.
HUB_TESTS = {"HasPermTest": HasPermTest, "UserTest": UserTest, "IsChildTaskTest": IsChildTaskTest}

_CURRENT: Optional["Hub"] = None


def current() -> "Hub":
    if _CURRENT is None:
        raise koji.GenericError("no test hub is running")
    return _CURRENT


def set_current(hub: Optional["Hub"]) -> None:
    global _CURRENT
    _CURRENT = hub


class Hub:
    """All of the test hub's state, and the operations on it."""

    def __init__(self, topdir: str, topurl: str = "") -> None:
        self.lock = threading.RLock()
        self.topdir = topdir
        self.topurl = topurl
        self.options: Dict[str, Any] = dict(DEFAULT_OPTIONS)
        self.event = 1
        self.events: Dict[int, float] = {1: time.time()}
        self.users: Dict[int, Dict[str, Any]] = {}
        self.passwords: Dict[str, str] = {}
        self.perms: Dict[int, Set[str]] = {}
        self.sessions: Dict[int, Dict[str, Any]] = {}
        self.channels: Set[str] = {"default", "createrepo"}
        self.tags: Dict[int, Dict[str, Any]] = {}
        self.targets: Dict[int, Dict[str, Any]] = {}
        self.external_repos: Dict[int, Dict[str, Any]] = {}
        self.tag_external: List[Dict[str, Any]] = []
        self.packages: Dict[int, Dict[str, Dict[str, Any]]] = {}  # tag id -> package name -> list entry
        self.builds: Dict[int, Dict[str, Any]] = {}
        self.tagged: List[Tuple[int, int, int]] = []  # tag id, build id, event
        self.tasks: Dict[int, Dict[str, Any]] = {}
        self.repos: Dict[int, Dict[str, Any]] = {}
        self.requests_q: Dict[int, Dict[str, Any]] = {}
        self.policies: Dict[str, koji.policy.SimpleRuleSet] = {}
        self.counts: Dict[str, int] = {}  # method -> calls (multicall members included)
        self.tasks_made: Dict[str, int] = {}  # method -> tasks created
        self.sidetags = True
        self._ids: Dict[str, int] = {}
        self.task_added = threading.Condition(self.lock)

    # -- ids, events, users ----------------------------------------------------------

    def next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def new_event(self) -> int:
        self.event += 1
        self.events[self.event] = time.time()
        return self.event

    def last_event(self, before: Optional[float] = None) -> Optional[int]:
        """``getLastEvent(before=ts)``: the newest event before ``ts`` (None if there is none)."""
        if before is None:
            return self.event
        older = [e for e, ts in self.events.items() if ts < before]
        return max(older) if older else None

    def add_user(self, name: str, password: Optional[str] = None, perms: Sequence[str] = (),
                 principal: Optional[str] = None, host: bool = False) -> int:
        with self.lock:
            uid = self.next_id("user")
            self.users[uid] = {"id": uid, "name": name, "status": 0,
                               "usertype": koji.USERTYPES["HOST" if host else "NORMAL"],
                               "krb_principals": [principal] if principal else []}
            if password is not None:
                self.passwords[name] = password
            self.perms[uid] = set(perms)
            return uid

    def get_user(self, info: Any = None, strict: bool = False) -> Optional[Dict[str, Any]]:
        if info is None:
            info = context.session.user_id
        if isinstance(info, dict):
            info = info.get("id", info.get("name"))
        for user in self.users.values():
            if user["id"] == info or user["name"] == info:
                return dict(user, krb_principal=(user["krb_principals"] or [None])[0])
        if strict:
            raise koji.GenericError("No such user: %r" % (info,))
        return None

    def create_session(self, user_id: int, authtype: int) -> Dict[str, Any]:
        sid = self.next_id("session")
        key = "%s-%s" % (user_id, base64.b32encode(os.urandom(10)).decode().lower())
        self.sessions[sid] = {"id": sid, "key": key, "user_id": user_id, "callnum": None, "authtype": authtype}
        return {"session-id": sid, "session-key": key, "header-auth": True}

    # -- tags, targets, external repos ---------------------------------------------------

    def create_tag(self, name: str, parent: Any = None, arches: Optional[str] = None,
                   extra: Optional[Mapping[str, Any]] = None, **_ignored: Any) -> int:
        if not isinstance(name, str) or not _NAME.match(name):
            raise koji.GenericError("Name %r is not valid" % (name,))
        if self.get_tag(name):
            raise koji.GenericError("A tag with the name '%s' already exists" % name)
        parent_id = None
        if parent is not None:
            ptag = self.get_tag(parent)
            if not ptag:
                raise koji.GenericError("Parent tag '%s' could not be found" % parent)
            parent_id = ptag["id"]
        tid = self.next_id("tag")
        event = self.new_event()
        self.tags[tid] = {"id": tid, "name": name, "arches": arches, "extra": dict(extra or {}), "parent": parent_id,
                          "locked": False, "perm": None, "perm_id": None, "maven_support": False,
                          "maven_include_all": False, "create_event": event, "last_change": event}
        return tid

    def get_tag(self, info: Any, strict: bool = False, **_ignored: Any) -> Optional[Dict[str, Any]]:
        if isinstance(info, dict):
            info = info.get("id", info.get("name"))
        for tag in self.tags.values():
            if tag["id"] == info or tag["name"] == info:
                return {k: (dict(v) if isinstance(v, dict) else v) for k, v in tag.items()
                        if k not in ("parent", "create_event", "last_change")}
        if strict:
            raise koji.GenericError("No such tagInfo: %r" % (info,))
        return None

    def chain(self, tag_id: int) -> List[int]:
        """The tag and its ancestors, nearest first (inheritance)."""
        out: List[int] = []
        while tag_id is not None and tag_id not in out:
            out.append(tag_id)
            tag_id = self.tags[tag_id]["parent"]
        return out

    def touch_tag(self, tag_id: int) -> None:
        self.tags[tag_id]["last_change"] = self.new_event()

    def tag_last_change_event(self, tag_id: int) -> int:
        """The newest event that changed the tag, its parents or their external repos (kojihub 1.35)."""
        events = [self.tags[t]["last_change"] for t in self.chain(tag_id)]
        events += [self.external_repos[e["external_repo_id"]].get("changed", 0) for e in self.external_list(tag_id)]
        return max(events)

    def build_config(self, tag_id: int) -> Dict[str, Any]:
        """``getBuildConfig``: the tag with its extra inherited (nearest tag wins)."""
        extra: Dict[str, Any] = {}
        for tid in reversed(self.chain(tag_id)):
            extra.update(self.tags[tid]["extra"])
        info = self.get_tag(tag_id, strict=True)
        info["extra"] = extra
        return info

    def delete_tag(self, tag_id: int) -> None:
        self.tags.pop(tag_id)
        for tid, target in list(self.targets.items()):
            if target["build_tag"] == tag_id or target["dest_tag"] == tag_id:
                self.targets.pop(tid)
        self.tag_external = [e for e in self.tag_external if e["tag_id"] != tag_id]
        self.tagged = [t for t in self.tagged if t[0] != tag_id]
        self.packages.pop(tag_id, None)
        self.new_event()

    def create_target(self, name: str, build_tag: Any, dest_tag: Any) -> int:
        if self.get_build_target(name):
            raise koji.GenericError("A build target with the name '%s' already exists" % name)
        btag, dtag = self.get_tag(build_tag), self.get_tag(dest_tag)
        if not btag:
            raise koji.GenericError("build tag '%s' does not exist" % build_tag)
        if not dtag:
            raise koji.GenericError("destination tag '%s' does not exist" % dest_tag)
        tid = self.next_id("target")
        self.targets[tid] = {"id": tid, "name": name, "build_tag": btag["id"], "build_tag_name": btag["name"],
                             "dest_tag": dtag["id"], "dest_tag_name": dtag["name"]}
        self.new_event()
        return tid

    def get_build_target(self, info: Any, event: Any = None, strict: bool = False) -> Optional[Dict[str, Any]]:
        for target in self.targets.values():
            if target["id"] == info or target["name"] == info:
                return dict(target)
        if strict:
            raise koji.GenericError("No such build target: %s" % info)
        return None

    def external_repo_id(self, name: str, create: bool = False) -> int:
        for repo in self.external_repos.values():
            if repo["name"] == name:
                return repo["id"]
        if not create:
            raise koji.GenericError("No such repo: %s" % name)
        rid = self.next_id("external_repo")
        self.external_repos[rid] = {"id": rid, "name": name, "url": None, "changed": self.new_event()}
        return rid

    def add_external_repo(self, tag_id: int, name: str, url: str, priority: int = 5, merge_mode: str = "koji",
                          arches: Optional[str] = None) -> int:
        """``createExternalRepo`` + ``addExternalRepoToTag`` (an admin's step)."""
        if merge_mode not in koji.REPO_MERGE_MODES:
            raise koji.GenericError("No such merge mode: %s" % merge_mode)
        rid = self.external_repo_id(name, create=True)
        self.external_repos[rid]["url"] = url if url.endswith("/") else url + "/"
        self.tag_external.append({"tag_id": tag_id, "external_repo_id": rid, "priority": priority,
                                  "merge_mode": merge_mode, "arches": arches})
        self.touch_tag(tag_id)
        return rid

    def external_list(self, tag_id: int) -> List[Dict[str, Any]]:
        """``getExternalRepoList``: the external repos of a tag and its parents, depth first, by priority."""
        seen: Set[int] = set()
        out = []
        for tid in self.chain(tag_id):
            for entry in sorted((e for e in self.tag_external if e["tag_id"] == tid), key=lambda e: e["priority"]):
                if entry["external_repo_id"] in seen:
                    continue
                seen.add(entry["external_repo_id"])
                repo = self.external_repos[entry["external_repo_id"]]
                out.append({"tag_id": tid, "tag_name": self.tags[tid]["name"], "external_repo_id": repo["id"],
                            "external_repo_name": repo["name"], "url": repo["url"], "priority": entry["priority"],
                            "merge_mode": entry["merge_mode"], "arches": entry["arches"]})
        return out

    # -- package lists (kojihub's tag_packages) -----------------------------------------------

    def package_config(self, tag_id: int, name: str) -> Optional[Dict[str, Any]]:
        """``getPackageConfig``: the package's list entry in the tag or the nearest parent, or None."""
        for tid in self.chain(tag_id):
            entry = self.packages.get(tid, {}).get(name)
            if entry is not None:
                return dict(entry, tag_id=tid, tag_name=self.tags[tid]["name"])
        return None

    def package_list_add(self, tag_id: int, name: str, owner_id: Optional[int], block: bool = False,
                         extra_arches: Optional[str] = None) -> None:
        entry = self.packages.setdefault(tag_id, {}).get(name)
        if entry is None:
            if owner_id is None:
                raise koji.GenericError("owner not specified")
            pkg_id = next((e["package_id"] for es in self.packages.values() for e in es.values()
                           if e["package_name"] == name), None) or self.next_id("package")
            entry = {"package_id": pkg_id, "package_name": name}
            self.packages[tag_id][name] = entry
        entry.update(owner_id=owner_id if owner_id is not None else entry["owner_id"],
                     owner_name=self.users[owner_id]["name"] if owner_id is not None else entry["owner_name"],
                     blocked=bool(block), extra_arches=extra_arches)
        self.touch_tag(tag_id)

    # -- builds ---------------------------------------------------------------------------

    def latest_builds(self, tag_id: int, inherit: bool = True, event: Optional[int] = None) -> List[Dict[str, Any]]:
        """The latest build of each package in a tag (nearest tag in the chain wins), as of ``event``."""
        chosen: Dict[str, Dict[str, Any]] = {}
        for tid in (self.chain(tag_id) if inherit else [tag_id]):
            for tagged_tid, bid, tagged_at in sorted(self.tagged, key=lambda t: -t[2]):
                if tagged_tid == tid and (event is None or tagged_at <= event):
                    build = self.builds[bid]
                    chosen.setdefault(build["name"], dict(build, tag_id=tid, tag_name=self.tags[tid]["name"]))
        return list(chosen.values())

    def tag_build(self, tag_id: int, build_id: int) -> None:
        self.tagged.append((tag_id, build_id, self.new_event()))
        self.tags[tag_id]["last_change"] = self.event

    # -- tasks -----------------------------------------------------------------------------

    def make_task(self, method: str, arglist: Sequence[Any], **opts: Any) -> int:
        """kojihub's make_task: parent defaults, the channel and priority policies."""
        parent = None
        if opts.get("parent") is not None:
            parent = self.tasks.get(opts["parent"])
            if not parent:
                raise koji.GenericError("Invalid parent task: %(parent)s" % opts)
            if parent["state"] != TASK["OPEN"]:
                raise koji.GenericError("Parent task (id %(parent)s) is not open" % opts)
            opts.setdefault("owner", parent["owner"])
            opts.setdefault("priority", parent["priority"] - 1)
            opts.setdefault("arch", parent["arch"])
            opts.setdefault("label", None)
        else:
            if "owner" not in opts:
                if not context.session.logged_in:
                    raise koji.GenericError("task must have an owner")
                opts["owner"] = context.session.user_id
            opts.setdefault("priority", koji.PRIO_DEFAULT)
            opts.setdefault("arch", "noarch")
            opts["parent"] = None
            opts["label"] = None
        owner = opts["owner"]
        if not isinstance(owner, int):
            owner = self.get_user(owner, strict=True)["id"]
        data = {"method": method, "arch": opts["arch"], "parent": opts["parent"], "label": opts["label"],
                "owner": owner, "user_id": owner}
        if opts.get("channel"):
            if opts["channel"] not in self.channels:
                raise koji.GenericError("No such channel: %s" % opts["channel"])
            data["req_channel"] = opts["channel"]
        if method in ("build", "buildArch") and arglist:
            data["source"] = arglist[0]
        channel = self._channel(data, parent)
        tid = self.next_id("task")
        stamp, ts = now()
        self.tasks[tid] = {
            "id": tid, "state": TASK["FREE"], "create_time": stamp, "create_ts": ts, "start_time": None,
            "start_ts": None, "completion_time": None, "completion_ts": None, "channel_id": 1, "channel": channel,
            "host_id": None, "parent": opts["parent"], "label": opts["label"], "waiting": None,
            "awaited": None, "owner": owner, "method": method, "arch": opts["arch"],
            "priority": opts["priority"], "weight": 1.0, "request": list(arglist), "result": None,
        }
        self.tasks_made[method] = self.tasks_made.get(method, 0) + 1
        with self.task_added:
            self.task_added.notify_all()
        return tid

    def _channel(self, data: Mapping[str, Any], parent: Optional[Mapping[str, Any]]) -> str:
        ruleset = self.policy("channel")
        result = ruleset.apply(dict(data)) if ruleset is not None else None
        parts = (result or "use default").split()
        if parts[0] == "use" and len(parts) > 1:
            if parts[1] not in self.channels:
                raise koji.GenericError("No such channel: %s" % parts[1])
            return parts[1]
        if parts[0] == "parent" and parent is not None:
            return parent["channel"]
        if parts[0] == "req" and "req_channel" in data:
            return data["req_channel"]
        raise koji.GenericError("invalid channel policy")

    def task_info(self, task_id: int, request: bool = False) -> Optional[Dict[str, Any]]:
        task = self.tasks.get(task_id)
        if task is None:
            return None
        info = {k: v for k, v in task.items() if k not in ("request", "result", "channel")}
        if request:
            info["request"] = task["request"]
        return info

    def close_task(self, task_id: int, state: str, result: Any) -> None:
        task = self.tasks[task_id]
        if task["state"] != TASK["OPEN"]:
            return  # canceled meanwhile: kojid's closeTask is refused, the state stays
        stamp, ts = now()
        task.update(state=TASK[state], result=result, completion_time=stamp, completion_ts=ts)
        with self.task_added:
            self.task_added.notify_all()

    def cancel_task(self, task_id: int, recurse: bool = True) -> bool:
        task = self.tasks[task_id]
        if task["state"] == TASK["CANCELED"]:
            return True
        if task["state"] in (TASK["CLOSED"], TASK["FAILED"]):
            return False
        stamp, ts = now()
        task.update(state=TASK["CANCELED"], completion_time=stamp, completion_ts=ts)
        if recurse:
            for child in [t for t in self.tasks.values() if t["parent"] == task_id]:
                self.cancel_task(child["id"], True)
        with self.task_added:
            self.task_added.notify_all()
        return True

    def task_result(self, task_id: int, raise_fault: bool = True) -> Any:
        task = self.tasks.get(task_id)
        if task is None:
            raise koji.GenericError("No such task")
        state = koji.TASK_STATES[task["state"]]
        if state == "CANCELED":
            raise koji.GenericError("Task %i is canceled" % task_id)
        if state not in ("CLOSED", "FAILED"):
            raise koji.GenericError("Task %i is not finished" % task_id)
        kind, value = task["result"]
        if kind == "fault":
            if raise_fault:
                raise koji.xmlrpcplus.Fault(value[0], value[1])
            return {"faultCode": value[0], "faultString": value[1]}
        return value

    def task_dir(self, task_id: int) -> str:
        return os.path.join(self.topdir, "work", koji.pathinfo.taskrelpath(task_id))

    def verify_host(self, task_id: int) -> bool:
        """kojihub's ``Task.verifyHost()``: the calling host owns the open task."""
        task = self.tasks.get(task_id)
        if task is None:
            raise koji.GenericError("No such task: %i" % task_id)
        host_id = context.session.host_id
        return host_id is not None and task["state"] == TASK["OPEN"] and task["host_id"] == host_id

    # -- policies ------------------------------------------------------------------------

    def policy(self, name: str) -> Optional[koji.policy.SimpleRuleSet]:
        """The configured policy, else Koji's built-in default, else None (a missing policy)."""
        return self.policies.get(name) or self.policies.get(f"__default__{name}")

    def check_policy(self, name: str, data: Mapping[str, Any], default: str = "deny", strict: bool = False,
                     force: bool = False) -> Tuple[bool, str]:
        ruleset = self.policy(name)
        if not ruleset:
            result = "allow" if self.options["MissingPolicyOk"] else "deny"
            reason = "missing policy"
        else:
            result = ruleset.apply(dict(data))
            if result is None:
                result, reason = default, "not covered by policy"
            else:
                parts = result.split(None, 1) + ["", ""]
                result, reason = parts[0].lower(), parts[1]
        if result == "allow":
            return True, reason
        if result != "deny":
            reason = "error in policy"
        if not strict:
            return False, reason
        text = "policy violation (%s)" % name
        if reason:
            text += ": %s" % reason
        raise koji.ActionNotAllowed(text)


def adler32_hex(data: bytes, start: int = 1) -> str:
    return "%08x" % (zlib.adler32(data, start) & 0xFFFFFFFF)
