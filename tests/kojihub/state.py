"""The test hub's data and its XML-RPC API (the subset of Koji's the client and plugins use).

Everything lives in memory behind one lock (a transaction: each call sees and leaves a
consistent hub). Names, arguments, results and faults follow Koji's hub
(``kojihub/kojihub.py``, ``kojihub/repos.py``, ``plugins/hub/sidetag_hub.py``, Koji 1.36).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import os
import re
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import koji
import koji.policy
from koji.context import context

TASK = koji.TASK_STATES
BUILD = koji.BUILD_STATES
_NAME = re.compile(r"[A-Za-z0-9/_.+-]+\Z")
_COMMON = "{http://linux.duke.edu/metadata/common}"
_REPO = "{http://linux.duke.edu/metadata/repo}"

#: Methods a logged-in session may replay with the same call number (kojihub/auth.py).
RETRY_WHITELIST = {"host.taskWait", "host.taskUnwait", "host.taskSetWait", "host.updateHost",
                   "host.setBuildRootState", "repoExpire", "repoDelete", "repoProblem"}


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
    def hostid(self) -> Optional[int]:
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
        self.event = 1
        self.events: Dict[int, float] = {1: time.time()}
        self.users: Dict[int, Dict[str, Any]] = {}
        self.passwords: Dict[str, str] = {}
        self.perms: Dict[int, Set[str]] = {}
        self.sessions: Dict[int, Dict[str, Any]] = {}
        self.tags: Dict[int, Dict[str, Any]] = {}
        self.targets: Dict[int, Dict[str, Any]] = {}
        self.external_repos: Dict[int, Dict[str, Any]] = {}
        self.tag_external: List[Dict[str, Any]] = []
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
                return {k: (dict(v) if isinstance(v, dict) else v) for k, v in tag.items() if k not in ("parent", "create_event", "last_change")}
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

    def delete_tag(self, tag_id: int) -> None:
        self.tags.pop(tag_id)
        for tid, target in list(self.targets.items()):
            if target["build_tag"] == tag_id or target["dest_tag"] == tag_id:
                self.targets.pop(tid)
        self.tag_external = [e for e in self.tag_external if e["tag_id"] != tag_id]
        self.tagged = [t for t in self.tagged if t[0] != tag_id]
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
        self.external_repos[rid] = {"id": rid, "name": name, "url": None}
        return rid

    # -- builds ---------------------------------------------------------------------------

    def latest_builds(self, tag_id: int, inherit: bool = True) -> List[Dict[str, Any]]:
        """The latest build of each package in a tag (nearest tag in the chain wins)."""
        chosen: Dict[str, Dict[str, Any]] = {}
        for tid in (self.chain(tag_id) if inherit else [tag_id]):
            for tagged_tid, bid, event in sorted(self.tagged, key=lambda t: -t[2]):
                if tagged_tid == tid:
                    build = self.builds[bid]
                    chosen.setdefault(build["name"], dict(build, tag_id=tid, tag_name=self.tags[tid]["name"]))
        return list(chosen.values())

    def tag_build(self, tag_id: int, build_id: int) -> None:
        self.tagged.append((tag_id, build_id, self.new_event()))
        self.tags[tag_id]["last_change"] = self.event

    # -- tasks -----------------------------------------------------------------------------

    def make_task(self, method: str, arglist: Sequence[Any], **opts: Any) -> int:
        if "parent" in opts and opts["parent"] is not None:
            parent = self.tasks.get(opts["parent"])
            if not parent:
                raise koji.GenericError("Invalid parent task: %(parent)s" % opts)
            if parent["state"] != TASK["OPEN"]:
                raise koji.GenericError("Parent task (id %(parent)s) is not open" % opts)
            opts.setdefault("owner", parent["owner"])
            opts.setdefault("priority", parent["priority"] - 1)
        else:
            if "owner" not in opts:
                if not context.session.logged_in:
                    raise koji.GenericError("task must have an owner")
                opts["owner"] = context.session.user_id
            opts["parent"] = None
            opts["label"] = None
        owner = opts["owner"]
        if not isinstance(owner, int):
            owner = self.get_user(owner, strict=True)["id"]
        channel = opts.get("channel") or "default"
        if "channel" in self.policies:
            result = self.policies["channel"].apply({"method": method, "parent": opts.get("parent"),
                                                     "user_id": owner, "owner": owner, "label": opts.get("label")})
            if result and result.split()[0] == "use":
                channel = result.split()[1]
        tid = self.next_id("task")
        stamp, ts = now()
        self.tasks[tid] = {
            "id": tid, "state": TASK["FREE"], "create_time": stamp, "create_ts": ts, "start_time": None,
            "start_ts": None, "completion_time": None, "completion_ts": None, "channel_id": 1, "channel": channel,
            "host_id": None, "parent": opts.get("parent"), "label": opts.get("label"), "waiting": None,
            "awaited": None, "owner": owner, "method": method, "arch": opts.get("arch", "noarch"),
            "priority": opts.get("priority", koji.PRIO_DEFAULT), "weight": 1.0,
            "request": list(arglist), "result": None,
        }
        self.tasks_made[method] = self.tasks_made.get(method, 0) + 1
        with self.task_added:
            self.task_added.notify_all()
        return tid

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

    # -- policies ------------------------------------------------------------------------

    def check_policy(self, name: str, data: Mapping[str, Any], default: str = "deny", strict: bool = False,
                     force: bool = False) -> Tuple[bool, str]:
        ruleset = self.policies.get(name)
        if not ruleset:
            result, reason, lastrule = "deny", "missing policy", ""
        else:
            result = ruleset.apply(dict(data))
            lastrule = ruleset.last_rule()
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

    # -- repos -----------------------------------------------------------------------------

    def latest_repo(self, tag_id: int) -> Optional[Dict[str, Any]]:
        ready = [r for r in self.repos.values() if r["tag_id"] == tag_id and r["state"] == koji.REPO_READY]
        return dict(max(ready, key=lambda r: r["id"])) if ready else None

    def repo_contents(self, tag_id: int) -> Tuple[List[str], List[str]]:
        """What a new repo of a tag holds: tagged builds' RPM paths and external repo URLs (by priority)."""
        rpms = [p for b in self.latest_builds(tag_id) for p in b.get("rpm_paths", [])]
        externals = []
        for tid in self.chain(tag_id):
            for entry in sorted((e for e in self.tag_external if e["tag_id"] == tid), key=lambda e: e["priority"]):
                externals.append(self.external_repos[entry["external_repo_id"]]["url"])
        return rpms, externals


def fetch_external_repo(url: str, dest: str, cache: Optional[str] = None) -> List[str]:
    """Download every package of a yum repository (its primary metadata says where they are).

    Packages already in ``cache`` (by URL) are not fetched again: RPM file names of a
    stream repo never change content, as Koji's merged repos only point at them.
    """
    base = url if url.endswith("/") else url + "/"
    try:
        with urllib.request.urlopen(base + "repodata/repomd.xml", timeout=30) as response:
            repomd = ET.fromstring(response.read())
    except OSError:
        return []  # not published yet: an external repo may be empty
    href = None
    for data in repomd.findall(f"{_REPO}data"):
        if data.get("type") == "primary":
            location = data.find(f"{_REPO}location")
            href = location.get("href") if location is not None else None
    if href is None:
        return []
    with urllib.request.urlopen(base + href, timeout=30) as response:
        raw = response.read()
    if href.endswith(".gz"):
        raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
    elif href.endswith(".zst"):
        raise koji.GenericError("zstd metadata is not supported by the test hub")
    os.makedirs(dest, exist_ok=True)
    out = []
    for package in ET.fromstring(raw).findall(f"{_COMMON}package"):
        location = package.find(f"{_COMMON}location")
        if location is None:
            continue
        rel = location.get("href")
        where = os.path.join(cache, hashlib.sha256(base.encode()).hexdigest()[:16]) if cache else dest
        target = os.path.join(where, os.path.basename(rel))
        if not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with urllib.request.urlopen(base + rel, timeout=60) as response, open(target + ".part", "wb") as handle:
                handle.write(response.read())
            os.replace(target + ".part", target)
        out.append(target)
    return out


def adler32_hex(data: bytes, start: int = 1) -> str:
    return "%08x" % (zlib.adler32(data, start) & 0xFFFFFFFF)
