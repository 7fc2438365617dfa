"""The test hub's repositories: repo requests, the repo queue, repo_init/repoDone (Koji >= 1.35).

Follows ``kojihub/repos.py`` and ``kojihub/kojihub.py`` of Koji 1.35.3:

- :func:`request_repo` is ``repo.request``: ``min_event`` (None: the tag's default with
  ``RepoLag``; ``"last"``: the tag's last change), ``force`` (skip the existing-repo check
  only: an active request with a high enough ``min_event`` is still shared),
  ``duplicate`` answers, ``ParameterError`` for an unknown event;
- :func:`check_queue` is what kojira triggers (``repo.checkQueue``): a ``newRepo`` task per
  waiting request, up to ``MaxRepoTasks``; a failed or canceled task is retried until
  ``RepoRetries`` is exhausted, then the request goes inactive without a repo (a waiter's
  ``RepoWatcher`` then fails with "Repo request no longer active");
- :func:`repo_init` (``host.repoInit``) snapshots the tag's latest builds into
  ``repos/<tag>/<id>/<arch>/pkglist`` (with a ``toplink`` to the top directory, as Koji)
  and the blocked package names into ``blocklist``; :func:`repo_done` (``host.repoDone``)
  marks it READY and satisfies the matching requests (``repo_done_hook``);
- :func:`repo_packages` reads a repo's merged metadata back: what a buildroot made from
  it holds.

The repo's content is made by the ``newRepo`` task (:mod:`.newrepo`), run by the builder.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional, Tuple

import koji
from koji.context import context

from .state import TASK, Hub

_REPO = "{http://linux.duke.edu/metadata/repo}"
_COMMON = "{http://linux.duke.edu/metadata/common}"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
DEFAULT_OPTS = {"src": False, "debuginfo": False, "separate_src": False, "maven": False}


def repo_arches(tag: Dict[str, Any]) -> List[str]:
    """The arch directories of a tag's repos (canonical arches of the tag, as repo_init makes them)."""
    return sorted({koji.canonArch(a) for a in (tag.get("arches") or "").split()})


def _event(hub: Hub, value: Any) -> int:
    try:
        event = int(value)
    except (TypeError, ValueError):
        raise koji.ParameterError("Invalid type for value %r: %s" % (value, type(value))) from None
    if event not in hub.events:
        raise koji.ParameterError(f"Invalid event: {event}")
    return event


def default_min_event(hub: Hub, tag_id: int) -> int:
    """kojihub's default_min_event: allow ``RepoLag`` when the tag changed recently."""
    last = hub.tag_last_change_event(tag_id)
    window = hub.options["RepoLagWindow"]
    lag = hub.tags[tag_id]["extra"].get("repo.lag")
    lag = lag if isinstance(lag, int) else hub.options["RepoLag"]
    base_ts = (time.time() - lag) // window * window
    base = hub.last_event(before=base_ts)
    if base is None:  # a brand new hub: no event that old
        base = hub.tags[tag_id]["create_event"]
    return min(base, last)


def latest_repo(hub: Hub, tag_id: int, min_event: Optional[int] = None) -> Optional[Dict[str, Any]]:
    """``repo.get``: the newest READY repo of the tag with ``create_event >= min_event``."""
    ready = [r for r in hub.repos.values() if r["tag_id"] == tag_id and r["state"] == koji.REPO_READY
             and (min_event is None or r["create_event"] >= min_event)]
    return dict(max(ready, key=lambda r: r["create_event"])) if ready else None


def request_repo(hub: Hub, tag: Any, min_event: Any = None, at_event: Any = None, opts: Any = None,
                 priority: Any = None, force: bool = False) -> Dict[str, Any]:
    context.session.assertLogin()
    taginfo = hub.get_tag(tag, strict=True)
    if opts:
        raise koji.ParameterError("repo options are not supported by the test hub")
    if at_event is not None:
        raise koji.ParameterError("at_event is not supported by the test hub")
    if min_event == "last":
        min_event = hub.tag_last_change_event(taginfo["id"])
    elif min_event is None:
        min_event = default_min_event(hub, taginfo["id"])
    else:
        min_event = _event(hub, min_event)
    prio = koji.PRIO_DEFAULT
    if priority is not None:
        if int(priority) < 0 and not context.session.hasPerm("admin"):
            raise koji.ActionNotAllowed("only admins may create high-priority requests")
        prio = koji.PRIO_DEFAULT + int(priority)
    if not force:
        repo = latest_repo(hub, taginfo["id"], min_event)
        if repo:
            return {"repo": repo, "request": None, "duplicate": False}
    same = sorted((r for r in hub.requests_q.values() if r["tag_id"] == taginfo["id"] and r["active"]
                   and r["min_event"] >= min_event), key=lambda r: (r["priority"], r["id"]))
    if same:
        req = same[0]
        req["priority"] = min(req["priority"], prio)
        return {"repo": None, "request": _req(hub, req), "duplicate": True}
    rid = hub.next_id("repo_request")
    hub.requests_q[rid] = {"id": rid, "owner": context.session.user_id, "priority": prio, "tag_id": taginfo["id"],
                           "tag_name": taginfo["name"], "at_event": None, "min_event": min_event, "opts": {},
                           "active": True, "task_id": None, "tries": 0, "repo_id": None}
    return {"repo": None, "request": _req(hub, hub.requests_q[rid]), "duplicate": False}


def request_repo_as(hub: Hub, user_id: int, tag: Any, **kwargs: Any) -> Dict[str, Any]:
    """``repo.request`` by ``user_id`` (as ``koji regen-repo`` or kojira would ask), for tests."""
    from .state import Session

    old = getattr(context, "session", None)
    context.session = Session(hub, user_id=user_id)
    try:
        return request_repo(hub, tag, **kwargs)["request"]
    finally:
        context.session = old


def _req(hub: Hub, req: Dict[str, Any]) -> Dict[str, Any]:
    task = hub.tasks.get(req["task_id"]) if req["task_id"] else None
    return dict(req, task_state=task["state"] if task else None)


def check_request(hub: Hub, req_id: Any) -> Dict[str, Any]:
    """``repo.checkRequest``."""
    req = hub.requests_q.get(int(req_id))
    if not req:
        raise koji.GenericError("No such request")
    out: Dict[str, Any] = {"repo": None, "request": _req(hub, req)}
    if req["repo_id"]:
        out["repo"] = repo_info(hub, req["repo_id"])
    elif req["task_id"]:
        out["task"] = hub.task_info(req["task_id"])
    return out


def set_external_repo_data(erepo: Any, data: Dict[str, Any]) -> None:
    """``kojihub.repos.set_external_repo_data`` (what kojira calls): a new event for the repo's tags."""
    from .state import current

    hub = current()
    repo_id = erepo if isinstance(erepo, int) else hub.external_repo_id(erepo)
    hub.external_repos[repo_id].update(data=dict(data), changed=hub.new_event())


def repo_info(hub: Hub, repo_id: int) -> Optional[Dict[str, Any]]:
    repo = hub.repos.get(repo_id)
    return dict(repo) if repo else None


def check_queue(hub: Hub, kojira_user: int) -> List[int]:
    """kojihub's check_repo_queue (what kojira triggers): newRepo tasks for waiting requests."""
    waiting = sorted((r for r in hub.requests_q.values() if r["active"] and r["repo_id"] is None),
                     key=lambda r: (r["priority"], r["id"]))
    running = 0
    for req in waiting:
        if not req["task_id"]:
            continue
        state = hub.tasks[req["task_id"]]["state"]
        if state == TASK["CLOSED"]:
            result = hub.task_result(req["task_id"])
            repo = hub.repos.get(int(result[0])) if result else None
            if repo and repo["state"] == koji.REPO_READY and repo["create_event"] >= req["min_event"]:
                req.update(repo_id=repo["id"], active=False)
                continue
            retry = True
        elif state in (TASK["FAILED"], TASK["CANCELED"]):
            retry = True
        else:
            running += 1
            retry = False
        if retry:
            if req["tries"] > hub.options["RepoRetries"]:
                req["active"] = False  # retries exhausted: the request stays without a repo
            else:
                req["task_id"] = None
    made = []
    for req in waiting:
        if req["task_id"] or not req["active"]:
            continue
        if running >= hub.options["MaxRepoTasks"]:
            break
        tag = {"id": req["tag_id"], "name": req["tag_name"]}
        task_id = hub.make_task("newRepo", koji.encode_args(tag, opts={}), priority=15, channel="createrepo",
                                owner=kojira_user)
        req.update(task_id=task_id, tries=req["tries"] + 1)
        running += 1
        made.append(task_id)
    return made


def repo_init(hub: Hub, tag_id: int, task_id: int) -> Tuple[int, int]:
    """``host.repoInit``: a new INIT repo at a new event, its pkglist and blocklist per arch."""
    tag = hub.tags[tag_id]
    event = hub.new_event()
    repo_id = hub.next_id("repo")
    path = os.path.join(hub.topdir, "repos", tag["name"], str(repo_id))
    builds = hub.latest_builds(tag_id, event=event)
    blocked = sorted({name for tid in hub.chain(tag_id) for name, e in hub.packages.get(tid, {}).items()
                      if e["blocked"]})
    for arch in repo_arches(tag):
        arch_dir = os.path.join(path, arch)
        os.makedirs(arch_dir, exist_ok=True)
        os.symlink(hub.topdir, os.path.join(arch_dir, "toplink"))
        rels = sorted(os.path.relpath(p, hub.topdir) for b in builds if b["name"] not in blocked
                      for p in b.get("rpm_paths", []) if p.endswith((f".{arch}.rpm", ".noarch.rpm")))
        with open(os.path.join(arch_dir, "pkglist"), "w", encoding="utf-8") as handle:
            handle.write("".join(f"toplink/{r}\n" for r in rels))
        with open(os.path.join(arch_dir, "blocklist"), "w", encoding="utf-8") as handle:
            handle.write("".join(f"{b}\n" for b in blocked))
    hub.repos[repo_id] = {"id": repo_id, "tag_id": tag_id, "tag_name": tag["name"], "create_event": event,
                          "create_ts": hub.events[event], "state": koji.REPO_INIT, "dist": False,
                          "opts": dict(DEFAULT_OPTS), "custom_opts": {}, "task_id": task_id,
                          "begin_event": None, "end_event": None}
    return repo_id, event


def repo_done(hub: Hub, repo_id: int) -> None:
    """``host.repoDone`` with ``repo_done_hook``: READY, and every matching request satisfied."""
    repo = hub.repos[repo_id]
    if repo["state"] != koji.REPO_INIT:
        raise koji.GenericError("Repo %i not in INIT state" % repo_id)
    repo["state"] = koji.REPO_READY
    for req in hub.requests_q.values():
        if (req["active"] and req["repo_id"] is None and req["tag_id"] == repo["tag_id"]
                and req["min_event"] <= repo["create_event"]):
            req.update(repo_id=repo_id, active=False)


def repo_path(hub: Hub, repo: Dict[str, Any], arch: str) -> str:
    return os.path.join(hub.topdir, "repos", repo["tag_name"], str(repo["id"]), arch)


def repo_packages(hub: Hub, repo: Dict[str, Any], arch: str, cache: str) -> List[str]:
    """The RPM files a buildroot made from ``repo`` holds, read from its merged metadata.

    Local packages are found through the arch directory (``toplink/...``); packages of
    external repos through their ``xml:base``, downloaded once into ``cache``.
    """
    top = repo_path(hub, repo, arch)
    repomd = ET.parse(os.path.join(top, "repodata", "repomd.xml"))
    primary = next(d.find(f"{_REPO}location").get("href") for d in repomd.getroot().findall(f"{_REPO}data")
                   if d.get("type") == "primary")
    with gzip.open(os.path.join(top, primary)) as handle:
        packages = ET.parse(handle).getroot().findall(f"{_COMMON}package")
    out = []
    for package in packages:
        location = package.find(f"{_COMMON}location")
        href, base = location.get("href"), location.get(_XML_BASE)
        if not base:
            out.append(os.path.join(top, href))
            continue
        url = base.rstrip("/") + "/" + href
        if url.startswith("file://"):
            out.append(url[len("file://"):])
            continue
        target = os.path.join(cache, hashlib.sha256(url.encode()).hexdigest()[:16], os.path.basename(href))
        if not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            part = f"{target}.{os.getpid()}.{threading.get_ident()}.part"  # builds download side by side
            with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as handle:
                handle.write(response.read())
            os.replace(part, target)
        out.append(target)
    return sorted(out)
