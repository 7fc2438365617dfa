"""A TEST DOUBLE of a Koji hub (and of its builder and kojira): not Koji, for tests only.

Koji's hub (``kojihub``) is in no package registry, so stream-build's tests run against
this double. It must fail wherever Koji fails; what it models is taken from Koji 1.35.3's
sources (and checked against the real hub, kojid and kojira by
``tests/integration/test_koji_real.py``):

- the wire: real XML-RPC over HTTP(S) on 127.0.0.1 with koji's marshalling
  (``koji.xmlrpcplus``), ``multiCall``, keyword arguments, fault codes of Koji's exception
  classes (``GenericError``, ``ActionNotAllowed``, ``AuthError``, ``ParameterError``,
  ``RetryError``, ``SequenceError``...), ``fastUpload`` chunks written in place as
  kojihub's ``handle_upload`` writes them (a reader can see a half-written file;
  ``api.upload_hook`` runs at that moment), ``Koji-Version``;
- sessions and logins: password ``login``, ``sslLogin`` behind a GSSAPI (SPNEGO) front
  that verifies the Negotiate token with python-gssapi against a keytab made by a real
  MIT KDC, kojihub's call-number rules for replayed calls, ``context.session.host_id``;
- the calls the client and plugins use (see :mod:`.api`), with task states as
  ``koji.TASK_STATES``, channels (an unknown one is refused), ``host.subtask`` labels;
- repositories (:mod:`.repos`, :mod:`.newrepo`, :mod:`.kojira`): ``repo.request`` and
  ``repo.checkRequest`` as Koji >= 1.35 (``min_event``, ``force``, shared requests),
  kojira's repo queue (``newRepo`` tasks, ``RepoRetries``, requests given up) and its
  external-repo timestamps, ``newRepo``/``createrepo`` tasks running the real
  ``createrepo_c`` and ``mergerepo_c`` exactly as kojid does (merge modes, a missing or
  broken external repo fails with kojid's "failed to merge repos"), and Koji's own
  ``WaitrepoTask`` and ``BaseTaskHandler.getRepo`` in build tasks;
- package lists: builds that are not scratch are refused for a package not on the
  destination tag's list ("package X not in list for tag Y"), as kojid refuses them;
- policies where Koji evaluates them: hub.conf ``[policy]`` sections evaluated by koji's
  own ``koji.policy.SimpleRuleSet`` (tests found by ``koji.policy.findSimpleTests`` in
  koji.policy, the hub's ``has_perm``/``user``/``is_child_task`` and the loaded plugins),
  Koji's built-in defaults for the policies hub.conf leaves out (``build_from_srpm`` for
  admins only, ...), ``channel`` and ``priority`` in make_task, ``build_rpm`` and
  ``build_from_srpm`` asserted by the build task through ``host.assertPolicy``,
  ``package_list`` in packageListAdd, ``sidetag`` in createSideTag, ``stream_build`` in
  the plugin;
- plugins: the hub plugin is loaded with ``koji.plugin.PluginTracker`` and its
  ``export_in`` functions registered as kojixmlrpc registers them; THIS MODULE is what
  ``import kojihub`` gives the plugin here: the kojihub functions it calls
  (``get_tag``, ``make_task``, ``Task``, ``check_policy``, ``db.InsertProcessor``,
  ``repos.set_external_repo_data``...);
- the builder: :mod:`.kojid` runs the real builder plugin's ``StreamBuildTask`` over
  XML-RPC, and executes ``build``/``buildArch`` tasks with stream-build's local rpmbuild
  backend against the buildroot the repo's merged metadata lists (tagged builds plus
  external repos, fetched over HTTP), so a scratch build really sees only what the stream
  repo published.

Not modelled: the database, hosts beyond one builder, arches other than noarch builds in
x86_64 repos, signing, content generators, repo options and ``at_event``, the web UI
(``weburl`` is only used for task URLs).
"""

from __future__ import annotations

import configparser
import itertools
import os
import socket
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import koji
import koji.plugin
import koji.policy

from . import db  # noqa: F401 - ``kojihub.db``, as plugins import it
from . import repos  # noqa: F401 - ``kojihub.repos``, likewise
from . import state as _state
from .api import HubAPI
from .server import Fault, HubServer, serve
from .state import DEFAULT_POLICIES, HUB_TESTS, current

#: A fresh module prefix per loaded plugin set (an object id can be reused once freed).
_TRACKERS = itertools.count()

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = str(ROOT / "koji_hub_plugin")

# ---------------------------------------------------------------------------
# the kojihub functions plugins call (module level, as in kojihub/__init__.py)
# ---------------------------------------------------------------------------


def get_user(userInfo: Any = None, strict: bool = False, krb_princs: bool = True, groups: bool = False) -> Any:
    return current().get_user(userInfo, strict)


def get_tag(tagInfo: Any, strict: bool = False, event: Any = None, blocked: bool = False) -> Any:
    return current().get_tag(tagInfo, strict)


def get_build_target(info: Any, event: Any = None, strict: bool = False) -> Any:
    return current().get_build_target(info, strict=strict)


def readTaggedRPMS(tag: Any, package: Any = None, arch: Any = None, event: Any = None, inherit: bool = False,
                   latest: bool = True, rpmsigs: bool = False, owner: Any = None, type: Any = None,
                   extra: bool = True, draft: Any = None) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    hub = current()
    taginfo = hub.get_tag(tag, strict=True)
    builds = hub.latest_builds(taginfo["id"], inherit)
    rpms = [dict(r) for b in builds for r in b.get("rpms", [])]
    return rpms, [{k: v for k, v in b.items() if k not in ("rpms", "rpm_paths")} for b in builds]


def _create_tag(name: str, parent: Any = None, arches: Any = None, perm: Any = None, locked: bool = False,
                maven_support: bool = False, maven_include_all: bool = False, extra: Any = None) -> int:
    return current().create_tag(name, parent, arches, extra)


def _create_build_target(name: str, build_tag: Any, dest_tag: Any) -> None:
    current().create_target(name, build_tag, dest_tag)


def get_external_repo_id(info: Any, strict: bool = False, create: bool = False) -> int:
    return current().external_repo_id(info, create)


def get_external_repo_list(tag_info: Any, event: Any = None) -> List[Dict[str, Any]]:
    hub = current()
    return hub.external_list(hub.get_tag(tag_info, strict=True)["id"])


def tag_last_change_event(tag: Any, before: Any = None, inherit: bool = True) -> int:
    hub = current()
    return hub.tag_last_change_event(hub.get_tag(tag, strict=True)["id"])


def make_task(method: str, arglist: Sequence[Any], **opts: Any) -> int:
    return current().make_task(method, arglist, **opts)


def check_policy(name: str, data: Mapping[str, Any], default: str = "deny", strict: bool = False,
                 force: bool = False) -> Tuple[bool, str]:
    return current().check_policy(name, data, default, strict, force)


def assert_policy(name: str, data: Mapping[str, Any], default: str = "deny", force: bool = False) -> None:
    current().check_policy(name, data, default, True, force)


class Task:
    """kojihub.Task: the methods plugins use."""

    def __init__(self, id: int) -> None:  # noqa: A002 - kojihub's name
        self.id = id

    def getInfo(self, strict: bool = True, request: bool = False) -> Optional[Dict[str, Any]]:
        info = current().task_info(self.id, request)
        if info is None and strict:
            raise koji.GenericError("No such task: %s" % self.id)
        return info

    def getChildren(self, request: bool = False) -> List[Dict[str, Any]]:
        hub = current()
        return [hub.task_info(t["id"], request) for t in hub.tasks.values() if t["parent"] == self.id]

    def getResult(self, raise_fault: bool = True) -> Any:
        return current().task_result(self.id, raise_fault)

    def cancel(self, recurse: bool = True) -> bool:
        return current().cancel_task(self.id, recurse)

    def getOwner(self) -> int:
        return current().tasks[self.id]["owner"]

    def verifyHost(self, host_id: Any = None) -> bool:
        return current().verify_host(self.id)


# ---------------------------------------------------------------------------
# the test hub
# ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


DEFAULT_POLICY = """
[policy]
stream_build =
    all :: allow
channel =
    all :: use default
sidetag =
    all :: allow
"""


class TestHub:
    """A hub + builder on loopback. Use as a context manager; one at a time per process."""

    __test__ = False  # not a pytest test class

    def __init__(self, root: Path, hub_conf: str = DEFAULT_POLICY, plugin: bool = True, sidetags: bool = True,
                 tls: Optional[Tuple[str, str]] = None, keytab: Optional[str] = None, host: str = "127.0.0.1",
                 lookaside: Optional[str] = None, capacity: int = 2, instant: Optional[Mapping[str, List[str]]] = None,
                 builder: bool = True, repo_delay: float = 0.0, kojira: bool = True) -> None:
        self.root = Path(root)
        self.topdir = str(self.root / "mnt-koji")
        os.makedirs(self.topdir, exist_ok=True)
        self.port = free_port()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://{host}:{self.port}/kojihub"
        self.topurl = f"{scheme}://{host}:{self.port}/kojifiles"
        self.weburl = f"{scheme}://{host}:{self.port}/koji"
        self.hub = _state.Hub(self.topdir, self.topurl)
        self.hub.sidetags = sidetags
        self.api = HubAPI(self.hub)
        self.repo_delay = repo_delay
        self.with_kojira = kojira
        self.tls, self.keytab = tls, keytab
        self.plugin_enabled = plugin
        self.hub_conf = hub_conf
        self.lookaside, self.capacity, self.instant = lookaside, capacity, instant
        self.with_builder = builder
        self.host_password = "builder-secret"
        self.hub.add_user("builder-1", self.host_password, host=True)
        self.kojira_user = self.hub.add_user("kojira", None, perms=["repo"])
        self.server: Optional[HubServer] = None
        self.kojid: Any = None
        self.kojira: Any = None
        self.plugin: Any = None
        self._old_topdir = koji.pathinfo.topdir

    # -- set-up helpers -----------------------------------------------------------------

    def add_user(self, name: str, password: Optional[str] = None, perms: Sequence[str] = (),
                 principal: Optional[str] = None) -> int:
        return self.hub.add_user(name, password, perms, principal)

    def add_tag(self, name: str, parent: Optional[str] = None, arches: str = "noarch",
                extra: Optional[Mapping[str, Any]] = None) -> int:
        with self.hub.lock:
            return self.hub.create_tag(name, parent, arches, extra)

    def add_target(self, name: str, build_tag: str, dest_tag: str) -> int:
        with self.hub.lock:
            return self.hub.create_target(name, build_tag, dest_tag)

    def add_build(self, tag: str, name: str, version: str = "1.0", release: str = "1.fc44",
                  packages: Sequence[str] = (), duration: Optional[float] = None) -> int:
        """A completed build (its RPMs listed, no files) tagged into ``tag``: what a base tag holds.

        With ``duration``, the build looks built by a task that took that long (the hub's
        history, as ``getAverageBuildDuration`` reads it).
        """
        with self.hub.lock:
            build_id = self.hub.next_id("build")
            rpms = [{"name": p, "version": version, "release": release, "arch": "noarch", "build_id": build_id}
                    for p in (packages or [name])]
            finished = time.time()
            self.hub.builds[build_id] = {
                "id": build_id, "build_id": build_id, "name": name, "package_name": name, "version": version,
                "release": release, "epoch": None, "nvr": f"{name}-{version}-{release}", "draft": False,
                "state": koji.BUILD_STATES["COMPLETE"], "task_id": None if duration is None else 10**6 + build_id,
                "owner_id": None, "rpm_paths": [], "rpms": rpms,
                "creation_ts": finished - (duration or 0.0), "completion_ts": finished}
            self.hub.tag_build(self.hub.get_tag(tag, strict=True)["id"], build_id)
            return build_id

    def add_package(self, tag: str, *names: str, owner: str = "kojiadmin", block: bool = False) -> None:
        """``koji add-pkg --owner OWNER TAG NAME...`` (an admin's step)."""
        with self.hub.lock:
            owner_id = self.hub.get_user(owner)["id"] if self.hub.get_user(owner) else self.hub.add_user(owner)
            for name in names:
                self.hub.package_list_add(self.hub.get_tag(tag, strict=True)["id"], name, owner_id, block)

    def add_external_repo(self, tag: str, name: str, url: str, merge_mode: str = "koji", priority: int = 5) -> int:
        """``koji add-external-repo -t TAG NAME URL -m MODE`` (an admin's step)."""
        with self.hub.lock:
            return self.hub.add_external_repo(self.hub.get_tag(tag, strict=True)["id"], name, url, priority,
                                              merge_mode)

    def add_channel(self, name: str) -> None:
        """A channel (the builder serves every channel)."""
        with self.hub.lock:
            self.hub.channels.add(name)

    def inject(self, method: str, action: str = "drop", when: str = "after", times: int = 1, skip: int = 0) -> Fault:
        assert self.server is not None
        fault = Fault(method, action, when, times, skip)
        with self.server.stats_lock:
            self.server.faults.append(fault)
        return fault

    def tasks(self, method: Optional[str] = None) -> List[Dict[str, Any]]:
        with self.hub.lock:
            return [dict(t) for t in self.hub.tasks.values() if method is None or t["method"] == method]

    def http_requests(self, user: str) -> int:
        assert self.server is not None
        return self.server.http_requests.get(user, 0)

    def task_requests(self, method: str) -> int:
        """HTTP requests the handlers of all ``method`` tasks made (the builder's, per task session)."""
        assert self.server is not None and self.kojid is not None
        return sum(self.server.session_requests.get(self.kojid.task_sessions.get(t["id"], -1), 0)
                   for t in self.tasks(method))

    def task_state(self, task_id: int) -> str:
        return koji.TASK_STATES[self.hub.tasks[task_id]["state"]]

    # -- life cycle --------------------------------------------------------------------

    def _policies(self, namespaces: List[Mapping[str, Any]]) -> None:
        parser = configparser.RawConfigParser()
        parser.read_string(self.hub_conf)
        tests = koji.policy.findSimpleTests(namespaces)
        self.hub.policies = {name: koji.policy.SimpleRuleSet(parser.get("policy", name).splitlines(), tests)
                             for name in (parser.options("policy") if parser.has_section("policy") else [])}
        for name, text in DEFAULT_POLICIES.items():  # what kojihub uses for a policy hub.conf leaves out
            self.hub.policies[f"__default__{name}"] = koji.policy.SimpleRuleSet(text.splitlines(), tests)

    def start(self) -> "TestHub":
        _state.set_current(self.hub)
        koji.pathinfo.topdir = self.topdir
        funcs: Dict[str, Any] = dict(self.api.methods())
        namespaces: List[Mapping[str, Any]] = [vars(koji.policy), HUB_TESTS]
        if self.plugin_enabled:
            tracker = koji.plugin.PluginTracker(path=PLUGIN_DIR, prefix=f"_testhub_{next(_TRACKERS)}_")
            self.plugin = tracker.load("streambuild_hub")
            for value in vars(self.plugin).values():  # as kojixmlrpc's HandlerRegistry.register_plugin
                if callable(value) and not isinstance(value, type) and getattr(value, "exported", False):
                    funcs[getattr(value, "export_alias", value.__name__)] = value
            namespaces.append(vars(self.plugin))
        self._policies(namespaces)
        funcs["system.listMethods"] = lambda: sorted(funcs)
        funcs["_listapi"] = lambda: [{"name": n, "doc": getattr(f, "__doc__", None), "argdesc": "(...)", "args": []}
                                     for n, f in sorted(funcs.items())]
        self.server = HubServer(("127.0.0.1", self.port), self.hub, funcs, self.keytab)
        serve(self.server, self.tls)
        if self.with_builder:
            from .kojid import Kojid

            self.kojid = Kojid(self.hub, self.api, self.url, "builder-1", self.host_password,
                               PLUGIN_DIR, str(self.root / "kojid"), self.lookaside, self.capacity,
                               self.tls[0] if self.tls else None, self.instant, repo_delay=self.repo_delay)
            os.makedirs(str(self.root / "kojid"), exist_ok=True)
            self.kojid.start()
        if self.with_kojira:
            from .kojira import Kojira

            self.kojira = Kojira(self.hub, self.kojira_user)
            self.kojira.start()
        return self

    def stop(self) -> None:
        if self.kojira is not None:
            self.kojira.stop()
        if self.kojid is not None:
            self.kojid.stop()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        koji.pathinfo.topdir = self._old_topdir
        _state.set_current(None)

    def __enter__(self) -> "TestHub":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def profile(self, path: Path, user: str, password: str = "", name: str = "koji", target: str = "f44",
                authtype: str = "password", extra: str = "") -> Path:
        """Write a koji CLI config file with one profile for this hub."""
        lines = [f"[{name}]", f"server = {self.url}", f"weburl = {self.weburl}", f"topurl = {self.topurl}",
                 f"authtype = {authtype}", f"streambuild_target = {target}", "poll_interval = 1",
                 "streambuild_poll_interval = 0.2", "streambuild_retry_interval = 0.05", "max_retries = 4"]
        if authtype == "password":
            lines += [f"user = {user}", f"password = {password}"]
        if self.tls:
            lines.append(f"serverca = {self.tls[0]}")
        path.write_text("\n".join(lines) + "\n" + extra)
        return path


__all__ = ["TestHub", "Task", "free_port"]
