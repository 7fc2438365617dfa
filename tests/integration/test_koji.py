"""``stream-build build --backend koji`` against the test hub (tests/kojihub, a documented double).

Real parts: the koji client library (ClientSession, multicall, RepoWatcher, BaseTaskHandler),
the hub and builder plugins as Koji loads them, koji's policy engine, git daemon and HTTP
lookaside (the loopback forge), rpmbuild, createrepo_c and DNF. The builds are chained
scratch builds: a dependent builds only if its dependency's scratch result reached it
through the stream repo and the stream tag's regenerated repo.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import koji
import pytest

import kojihub
import kojihub.newrepo
import kojihub.repos
from conftest import Result, add_package, manifest, needs_rpm, spec
from streambuild.koji import hubapi
from streambuild.policy.acl import from_spec
from streambuild.policy import PolicyComponent

pytestmark = [pytest.mark.integration, needs_rpm]

ROOT = Path(__file__).resolve().parents[2]
POLICY = """
[policy]
stream_build =
    stream_commit_rights !! deny the submitter lacks commit rights on a component
    stream_branch !! deny a component is not on a release-series branch
    stream_collisions_declared !! deny undeclared binary package collisions
    stream_macros_approved !! deny unapproved macro overrides
    all :: allow
channel =
    is_stream_build :: use stream
    all :: use default
sidetag =
    all :: allow
"""
EXAMPLE_ACL = "tinypython3.11 alice\ntinytorch alice carol\n* releng-bot\n" \
              "tiny-a alice\ntiny-b alice\ntiny-c alice\nbroken alice\nneeds-broken alice\n" \
              + "".join(f"r-{n} alice\n" for n in ("a1", "a2", "a3", "b1", "b2", "b3", "c"))


class World:
    """A test hub with the example forge, users alice (commit rights), bob (none), boss (admin)."""

    def __init__(self, forge, tmp_path: Path, monkeypatch, **hub_options) -> None:
        self.forge, self.tmp = forge, tmp_path
        self.conf = tmp_path / "streambuild.conf"
        self.acl = tmp_path / "acl.txt"
        self.acl.write_text(EXAMPLE_ACL)
        options = {"hub_conf": POLICY, "lookaside": forge.lookaside_url, **hub_options}
        self.hub = kojihub.TestHub(tmp_path / "hub", **options)
        self.configure()
        monkeypatch.setenv(hubapi.CONFIG_ENV, str(self.conf))  # read by the hub plugin and the builder plugin
        monkeypatch.setenv("STREAM_BUILD_CONFIG", str(tmp_path / "forges.toml"))
        (tmp_path / "forges.toml").write_text("")
        self.hub.start()
        for user in ("alice", "bob", "carol"):
            self.hub.add_user(user, f"{user}-pw")
        self.hub.add_user("boss", "boss-pw", perms=["admin"])
        self.hub.add_channel("stream")
        self.hub.add_tag("f44-build", arches="x86_64",
                         extra={"rpm.macro.dist": ".fc44", "rpm.macro.fedora": "44", "rpm.macro.fc44": "1"})
        self.hub.add_tag("f44")
        self.hub.add_target("f44", "f44-build", "f44")

    def configure(self, hosts: str = "127.0.0.1:*", verify: str = "yes") -> None:
        self.conf.write_text(f"[general]\nallowed_scm_hosts = {hosts}\nallowed_schemes = git http https\n"
                             f"topurl = {self.hub.topurl}\n[policy]\nacl = file:{self.acl}\n"
                             f"[builder]\nverify_commits = {verify}\nrepo_poll_interval = 0.1\n"
                             f"git_cache = {self.tmp / 'builder-git'}\n")

    def profile(self, user: str, **extra: str) -> Path:
        text = "".join(f"{k} = {v}\n" for k, v in extra.items())
        return self.hub.profile(self.tmp / f"koji-{user}.conf", user, f"{user}-pw", extra=text)

    def cli(self, user: str, *args: str, env: Optional[Dict[str, str]] = None, timeout: float = 300) -> Result:
        environ = dict(os.environ, STREAM_BUILD_KOJI_CONFIG=str(self.profile(user)), **(env or {}))
        proc = subprocess.run([sys.executable, "-m", "streambuild.cli", *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, env=environ)
        assert "Traceback" not in proc.stderr, proc.stderr
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def session(self, user: str) -> koji.ClientSession:
        session = koji.ClientSession(self.hub.url, {"user": user, "password": f"{user}-pw"})
        session.login()
        return session

    def stream_tags(self) -> List[str]:
        return [t["name"] for t in self.hub.hub.tags.values() if "-stream-" in t["name"]]

    def tree(self) -> str:
        """Every task as a tree, with the fault of failed ones (as ``realkoji.py tree`` prints it)."""
        tasks = self.hub.tasks()
        lines: List[str] = []

        def show(task: dict, depth: int) -> None:
            line = f"{'  ' * depth}{task['id']} {task['method']} {koji.TASK_STATES[task['state']]}"
            line += f" {task['label']}" if task["label"] else ""
            if task["result"] and task["result"][0] == "fault":
                line += f"  FAULT: {task['result'][1][1][:300]}"
            lines.append(line)
            for child in sorted((t for t in tasks if t["parent"] == task["id"]), key=lambda t: t["id"]):
                show(child, depth + 1)

        for task in sorted((t for t in tasks if t["parent"] is None), key=lambda t: t["id"]):
            show(task, 0)
        return "\n".join(lines)

    def open_tasks(self) -> List[int]:
        return [t["id"] for t in self.hub.tasks() if koji.TASK_STATES[t["state"]] in ("FREE", "OPEN", "ASSIGNED")]


@pytest.fixture
def world(forge, tmp_path, monkeypatch) -> Iterator[World]:
    w = World(forge, tmp_path, monkeypatch)
    yield w
    w.hub.stop()
    assert not w.hub.server.server_errors, w.hub.server.server_errors
    assert not w.hub.kojid.errors, w.hub.kojid.errors
    assert w.hub.kojira.error is None, w.hub.kojira.error


def tiny_stream(forge, path: Path, names=("tiny-a", "tiny-b"), branch: str = "release-1.0", extra: str = "") -> Path:
    """tiny-b BuildRequires tiny-a; both noarch and quick."""
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = None
    for name in names:
        add_package(forge, name, branch, {f"{name}.spec": spec(name, buildrequires=[previous] if previous else [])})
        previous = name
    return manifest(path, forge, [f"{n}:{branch}" for n in names], extra=extra)


def polls(result: Result) -> List[int]:
    return [e["requests"] for e in result.events() if e.get("event") == "koji-poll"]


def buildroot(hub: kojihub.TestHub, arch_task: int) -> List[str]:
    """The RPM files of a buildArch task's buildroot, from its root.log."""
    lines = (Path(hub.hub.task_dir(arch_task)) / "root.log").read_text().splitlines()[1:]
    return sorted(line.strip() for line in lines if line.strip())


def rpm_installed(root: Path, name: str) -> bool:
    """Whether the root's rpm database, where Fedora 44 keeps it, has ``name``."""
    query = ["rpm", "--root", str(root), "--dbpath", "/usr/lib/sysimage/rpm", "-q", name]
    return subprocess.run(query, capture_output=True).returncode == 0


def test_example_stack_as_chained_scratch_builds_then_install(world, tmp_path):
    root = tmp_path / "root"
    m = world.forge.write_manifest(tmp_path / "stream-build.yaml", root)
    out = world.cli("alice", "build", str(m), "--backend", "koji", "--json")
    assert out.code == 0, out.stderr + world.tree()
    assert "through the streambuild hub plugin" in out.stderr
    for name in ("tinypython3.11", "tinytorch", "tinyllm"):
        assert out.states(name)[-1] == "done"
    hub = world.hub
    # no duplicate builds; one repo regeneration per level of the chain (its depth is 3)
    assert hub.hub.tasks_made == {"streamBuild": 1, "build": 3, "buildArch": 3, "newRepo": 3, "createrepo": 3}
    assert all(koji.TASK_STATES[t["state"]] == "CLOSED" for t in hub.tasks())  # no failed newRepo, no waitrepo
    (parent,) = hub.tasks("streamBuild")
    builds = {t["label"]: t for t in hub.tasks("build")}
    assert all(t["parent"] == parent["id"] and t["request"][2] == {"scratch": True} for t in builds.values())
    assert builds["tinytorch"]["request"][0].startswith("git://127.0.0.1:") and "#" in builds["tinytorch"]["request"][0]
    assert builds["tinyllm"]["request"][0].endswith(".src.rpm")  # upstream git: an SRPM the stream task made
    # chained: each dependent's buildroot (the stream tag's merged repo) held its dependency's
    # scratch RPMs, which only the stream repo had
    for child in hub.tasks("buildArch"):
        label = next(lbl for lbl, b in builds.items() if b["id"] == child["parent"])
        names = buildroot(hub, child["id"])
        if label == "tinytorch":
            assert "tinypython3.11-devel-3.11.9-1.fc44.noarch.rpm" in names
        if label == "tinyllm":
            assert "tinytorch-devel-2.11.0-1.fc44.noarch.rpm" in names
        if label == "tinypython3.11":
            assert names == []
    result = json.loads((Path(hub.hub.task_dir(parent["id"])) / "result.json").read_text())
    assert result["regenerations"]["count"] == 3 and result["regenerations"]["bound"] == 4
    # the channel policy saw the builds as part of a stream (is_stream_build on task parents)
    assert {hub.hub.tasks[b["id"]]["channel"] for b in builds.values()} == {"stream"}
    assert hub.hub.tasks[parent["id"]]["channel"] == "stream"
    # watching: exactly one HTTP request per poll, and the hub saw exactly those multicalls, plus
    # one asking for the build history of every component (durations for the priorities)
    counts = polls(out)
    assert counts and set(counts) == {1}
    assert hub.hub.counts["multiCall"] == len(counts) + 1
    assert hub.hub.counts["getAverageBuildDuration"] == 3
    urls = [e["url"] for e in out.events() if e.get("state") == "building"]
    assert urls and all(u.startswith(hub.weburl + "/taskinfo?taskID=") for u in urls)

    installed = world.cli("alice", "install", "-m", str(m), "--installroot", str(root), "-y")
    assert installed.code == 0, installed.stderr
    assert rpm_installed(root, "tinyllm") and rpm_installed(root, "tinytorch")

    status = world.cli("alice", "koji", "status", str(m), "--json")
    assert status.code == 0 and json.loads(status.stdout)["state"] == "CLOSED"
    again = world.cli("alice", "build", str(m), "--backend", "koji", "--json")
    assert again.code == 0 and all(again.states(n)[-1] == "cached" for n in ("tinyllm", "tinytorch"))
    assert hub.hub.tasks_made["streamBuild"] == 1  # an unchanged stream builds nothing


def test_a_new_stream_tag_gets_its_first_repo_no_deadlock(forge, tmp_path, monkeypatch):
    """The stream tag's external repo (the task's output repo/) is a valid, empty repository
    before anything can ask for a repo of the tag: kojid's mergerepo_c refuses a missing
    one, and then no build of the stream could ever start (issue 10)."""
    world = World(forge, tmp_path, monkeypatch, builder=False, kojira=False)  # nothing runs but the hub
    try:
        m = tiny_stream(world.forge, tmp_path / "stream-build.yaml", names=("tiny-a",))
        assert world.cli("alice", "koji", "build", str(m), "--nowait").code == 0
        (task,) = world.hub.tasks("streamBuild")
        (tag,) = world.stream_tags()
        repodata = Path(world.hub.hub.task_dir(task["id"])) / "repo" / "repodata" / "repomd.xml"
        assert repodata.is_file()
        # the first newRepo of the stream tag, as kojid runs it (createrepo_c, then mergerepo_c
        # over the external repo), succeeds: the repo holds nothing yet, but it exists
        hub = world.hub.hub
        with hub.lock:
            request = kojihub.repos.request_repo_as(hub, world.hub.kojira_user, tag)
            (newrepo_task,) = kojihub.repos.check_queue(hub, world.hub.kojira_user)
            hub.tasks[newrepo_task].update(state=koji.TASK_STATES["OPEN"])
        repo_id, _event = kojihub.newrepo.new_repo(hub, hub.tasks[newrepo_task], str(tmp_path), 0)
        assert hub.repos[repo_id]["state"] == koji.REPO_READY
        assert hub.requests_q[request["id"]]["repo_id"] == repo_id
    finally:
        world.hub.stop()


def test_a_broken_stream_repo_fails_the_stream_with_kojis_reason(world, tmp_path):
    """If the stream tag's repo cannot be made (here: the base tag's external repo is gone),
    the stream fails naming the newRepo task and mergerepo_c's complaint, instead of waiting."""
    world.hub.add_external_repo("f44-build", "f44-base", f"{world.hub.topurl}/nowhere/", merge_mode="bare")
    m = tiny_stream(world.forge, tmp_path / "stream-build.yaml", names=("tiny-a", "tiny-b"))
    out = world.cli("alice", "build", str(m), "--backend", "koji")
    assert out.code == 1, out.stderr + world.tree()
    assert "could not be generated" in out.stderr and "failed to merge repos" in out.stderr, out.stderr
    assert world.open_tasks() == []
    assert world.hub.tasks("build") == []  # nothing was started that could not see its buildroot


SIDETAG_POLICY = kojihub.DEFAULT_POLICY + "build_from_srpm =\n    all :: allow\n"


def test_without_the_plugin_side_tag_and_draft_builds(forge, tmp_path, monkeypatch):
    world = World(forge, tmp_path, monkeypatch, plugin=False, hub_conf=SIDETAG_POLICY)
    try:
        m = world.forge.write_manifest(tmp_path / "stream-build.yaml")
        # draft builds are not scratch builds: Koji builds them only for packages on the tag's list
        refused = world.cli("alice", "build", str(m), "--backend", "koji")
        assert refused.code == 3, refused.stderr
        assert ("tinypython3.11, tinytorch, tinyllm are not on the package list of f44-build" in refused.stderr
                and "a Koji admin must add them: koji add-pkg --owner alice f44-build tinypython3.11 tinytorch "
                    "tinyllm" in refused.stderr), refused.stderr
        assert world.hub.tasks() == [] and world.hub.hub.tags.keys() == {1, 2}  # nothing made in Koji
        world.hub.add_package("f44-build", "tinypython3.11", "tinytorch", "tinyllm")  # the admin's step
        out = world.cli("alice", "build", str(m), "--backend", "koji", "--json")
        assert out.code == 0, out.stderr + world.tree()
        assert "without the hub plugin: side tag and draft builds" in out.stderr
        hub = world.hub.hub
        (sidetag,) = [t for t in hub.tags.values() if t["extra"].get("sidetag")]
        assert sidetag["name"].startswith("f44-build-side-") and hub.tags[sidetag["parent"]]["name"] == "f44-build"
        builds = sorted(world.hub.tasks("build"), key=lambda t: t["id"])
        assert [b["request"][1] for b in builds] == [sidetag["name"]] * 3
        assert [b["request"][2]["draft"] for b in builds] == [True] * 3
        waits = [b["request"][2]["wait_builds"] for b in builds]
        assert waits[0] == [] and waits[1] == ["tinypython3.11-3.11.9-1.fc44,draft_1"]
        assert waits[2] == ["tinypython3.11-3.11.9-1.fc44,draft_1", "tinytorch-2.11.0-1.fc44,draft_2"]
        tagged = sorted(hub.builds[b]["nvr"] for t, b, _e in hub.tagged if t == sidetag["id"])
        assert tagged == ["tinyllm-0.20.0-1.fc44,draft_3", "tinypython3.11-3.11.9-1.fc44,draft_1",
                          "tinytorch-2.11.0-1.fc44,draft_2"]
        assert set(polls(out)) == {1}
        repo = tmp_path / ".stream-build" / "repos" / "stream"
        assert sorted(p.name for p in repo.glob("*.rpm"))[0] == "tinyllm-0.20.0-1.fc44.noarch.rpm"
        assert json.loads((tmp_path / ".stream-build" / "koji.json").read_text())["sidetag"] == sidetag["name"]
        nowait = world.cli("alice", "koji", "build", str(m), "--nowait", "--target", "f44")
        assert nowait.code == 0 and "unchanged" in nowait.stdout  # cached: nothing to submit, even without the plugin
    finally:
        world.hub.stop()


def test_side_tag_failures_carry_kojis_fault_and_the_log_tail(forge, tmp_path, monkeypatch):
    world = World(forge, tmp_path, monkeypatch, plugin=False, hub_conf=kojihub.DEFAULT_POLICY)
    try:
        add_package(world.forge, "broken", "release-1.0",
                    {"broken.spec": spec("broken", build="echo the-compiler-said-boom; exit 1")})
        add_package(world.forge, "needs-broken", "release-1.0",
                    {"needs-broken.spec": spec("needs-broken", buildrequires=["broken"])})
        add_package(world.forge, "tiny-c", "release-1.0", {"tiny-c.spec": spec("tiny-c")})
        m = manifest(tmp_path / "s.yaml", world.forge, ["broken:release-1.0", "needs-broken:release-1.0",
                                                         "tiny-c:release-1.0"])
        world.hub.add_package("f44-build", "broken", "needs-broken", "tiny-c")
        out = world.cli("alice", "build", str(m), "--backend", "koji", "--json")
        assert out.code == 1, out.stderr + world.tree()
        (failed,) = [e for e in out.events() if e.get("state") == "failed"]
        assert "error building package (arch noarch)" in failed["message"]  # Koji's fault text
        assert "build.log of task" in failed["log_tail"] and "the-compiler-said-boom" in failed["log_tail"]
        assert "broken: failed: error building package (arch noarch), mock exited with status 1" in out.stderr
        assert out.states("needs-broken")[-1] == "skipped" and out.states("tiny-c")[-1] == "done"
    finally:
        world.hub.stop()


def test_side_tag_builds_meet_kojis_default_build_from_srpm_policy(forge, tmp_path, monkeypatch):
    """Draft builds of an uploaded SRPM (an upstream-git component) are not scratch builds: kojid
    asks the hub's build_from_srpm policy, whose built-in default admits only admins."""
    world = World(forge, tmp_path, monkeypatch, plugin=False, hub_conf=kojihub.DEFAULT_POLICY)
    try:
        m = world.forge.write_manifest(tmp_path / "stream-build.yaml")
        world.hub.add_package("f44-build", "tinypython3.11", "tinytorch", "tinyllm")
        out = world.cli("alice", "build", str(m), "--backend", "koji", "--json")
        assert out.code == 1, out.stderr + world.tree()
        (failed,) = [e for e in out.events() if e.get("state") == "failed"]
        assert failed["component"] == "tinyllm"
        assert "policy violation (build_from_srpm): Only admin can do this via default policy" in failed["message"]
        assert out.states("tinypython3.11")[-1] == "done" and out.states("tinytorch")[-1] == "done"
    finally:
        world.hub.stop()


def test_the_hub_refuses_bad_streams_naming_component_and_rule(world, tmp_path):
    world.hub.add_build("f44-build", "tinytorch", "2.0", "1.fc44", ["tinytorch"])  # the base ships tinytorch
    m = world.forge.write_manifest(tmp_path / "stream-build.yaml")

    def refused(user: str, words: List[str], code: int = 3, path: Path = m, env: Optional[Dict[str, str]] = None) -> None:
        out = world.cli(user, "build", str(path), "--backend", "koji", env=env)
        assert out.code == code, out.stderr
        for word in words:
            assert word in out.stderr
        assert world.hub.tasks() == [] and world.stream_tags() == []  # nothing half-made in Koji

    refused("bob", ["policy violation (stream_build)", "tinypython3.11: commit-rights: bob has no commit rights",
                    "tinytorch: base-collision: ships tinytorch, which the base ships too"])
    refused("alice", ["tinytorch: base-collision"])
    declared = tmp_path / "declared.yaml"
    declared.write_text(m.read_text().replace("  - tinytorch:release-2.11",
                                              "  - {name: tinytorch, ref: release-2.11, replaces: true}"))
    fedora_branch = tmp_path / "fedora-branch.yaml"
    fedora_branch.write_text(declared.read_text().replace("tinypython3.11:release-3.11", "tinypython3.11:rawhide"))
    refused("alice", ["tinypython3.11: release-series-branch: branch rawhide is a Fedora release branch"],
            path=fedora_branch)
    refused("alice", ["no such build target: nosuch"], code=2, path=declared, env={"STREAM_BUILD_KOJI_TARGET": "nosuch"})
    world.configure(hosts="src.fedoraproject.org")
    refused("alice", ["component tinypython3.11: url: allowed-scm-host", "is not on an allowed SCM host"], path=declared)
    world.configure()
    ok = world.cli("carol", "koji", "build", str(declared), "--nowait")  # carol: tinytorch only
    assert ok.code == 3 and "tinypython3.11: commit-rights: carol has no commit rights" in ok.stderr


def test_short_and_unknown_commits_in_a_submitted_lock(world, tmp_path):
    session = world.session("alice")
    head = add_package(world.forge, "tiny-a", "release-1.0", {"tiny-a.spec": spec("tiny-a")})
    url = f"{world.forge.distgit_url}tiny-a.git"
    lock = {"version": 1, "base": "fedora-44-x86_64", "components": [
        {"name": "tiny-a", "type": "dist-git", "url": url, "ref": "release-1.0", "resolved": "refs/heads/release-1.0",
         "commit": head[:12]}]}
    opts = {"idempotency_key": "1" * 40, "stream": "s", "components": {"tiny-a": {}}}
    with pytest.raises(koji.ParameterError) as info:
        session.callMethod("streambuild.submit", lock, "f44", opts)
    assert f"component tiny-a: commit '{head[:12]}' is not a full commit id" in str(info.value)
    assert world.hub.tasks() == []
    lock["components"][0]["commit"] = "0" * 40  # well formed, but not in the repository
    task = session.callMethod("streambuild.submit", lock, "f44", opts)
    deadline = time.time() + 60
    while world.hub.task_state(task) in ("FREE", "OPEN") and time.time() < deadline:
        time.sleep(0.1)
    assert world.hub.task_state(task) == "FAILED"
    status = session.callMethod("streambuild.status", task)
    assert "tiny-a: reachable-commit" in status["fault"] and "0" * 40 in status["fault"]
    assert world.hub.tasks("build") == []  # nothing was built from a commit nobody can find again


def test_faults_during_submit_and_watch_never_duplicate_builds(world, tmp_path):
    m = tiny_stream(world.forge, tmp_path / "stream-build.yaml")
    world.hub.inject("streambuild.submit", "503", when="after")  # the task exists, the answer is lost
    world.hub.inject("multiCall", "drop", when="after", skip=1)  # a poll's answer is lost
    world.hub.inject("multiCall", "503", when="before", skip=3)
    out = world.cli("alice", "build", str(m), "--backend", "koji", "--json")
    assert out.code == 0, out.stderr
    assert world.hub.hub.tasks_made == {"streamBuild": 1, "build": 2, "buildArch": 2, "newRepo": 2, "createrepo": 2}
    assert world.hub.hub.counts["streambuild.submit"] == 2  # retried with the same key: the same task
    assert all(f.times == 0 for f in world.hub.server.faults)
    counts = polls(out)
    retried = [c for c in counts if c != 1]
    assert 1 <= len(retried) <= 2 and sum(retried) - len(retried) >= 2  # only polls that met a fault were retried

    other = tiny_stream(world.forge, tmp_path / "other" / "stream-build.yaml", names=("tiny-c",))
    world.hub.inject("streambuild.submit", "drop", when="after")  # koji replays the call number: RetryError
    out = world.cli("alice", "build", str(other), "--backend", "koji", "--json")
    assert out.code == 0, out.stderr
    assert world.hub.hub.tasks_made["streamBuild"] == 2 and world.hub.hub.tasks_made["build"] == 3
    assert out.states("tiny-c")[-1] == "done"


def test_a_failed_build_skips_its_dependents_and_the_rest_finishes(world, tmp_path):
    add_package(world.forge, "broken", "release-1.0", {"broken.spec": spec("broken", build="echo boom; exit 1")})
    add_package(world.forge, "needs-broken", "release-1.0",
                {"needs-broken.spec": spec("needs-broken", buildrequires=["broken"])})
    add_package(world.forge, "tiny-c", "release-1.0", {"tiny-c.spec": spec("tiny-c")})
    m = manifest(tmp_path / "s.yaml", world.forge, ["broken:release-1.0", "needs-broken:release-1.0", "tiny-c:release-1.0"])
    out = world.cli("alice", "build", str(m), "--backend", "koji", "--json")
    assert out.code == 1
    assert out.states("broken")[-1] == "failed" and out.states("needs-broken")[-1] == "skipped"
    assert out.states("tiny-c")[-1] == "done"
    assert "1 component(s) failed: broken" in out.stderr
    (parent,) = world.hub.tasks("streamBuild")
    assert world.hub.task_state(parent["id"]) == "FAILED"
    assert [t["label"] for t in world.hub.tasks("build")] == ["broken", "tiny-c"]
    assert world.open_tasks() == []
    failed = [e for e in out.events() if e.get("state") == "failed"][0]
    assert failed["log"].startswith(world.hub.weburl) and "error building package" in failed["message"]
    assert not (tmp_path / ".stream-build" / "repos" / "stream").exists()


def test_regenerations_are_coalesced_and_bounded(forge, tmp_path, monkeypatch):
    """Builds finishing while a repo regeneration runs share the next one; at most depth + 1 per stream."""
    world = World(forge, tmp_path, monkeypatch, capacity=4, repo_delay=1.0)  # a regeneration costs a second
    try:
        times = {"a1": "", "a2": "sleep 1", "a3": "sleep 2"}
        names = []
        for name, build in times.items():
            add_package(world.forge, f"r-{name}", "release-1.0", {f"r-{name}.spec": spec(f"r-{name}", build=build)})
            dep = name.replace("a", "b")
            add_package(world.forge, f"r-{dep}", "release-1.0",
                        {f"r-{dep}.spec": spec(f"r-{dep}", buildrequires=[f"r-{name}"])})
            names += [f"r-{name}", f"r-{dep}"]
        add_package(world.forge, "r-c", "release-1.0", {"r-c.spec": spec("r-c", buildrequires=["r-b1", "r-b2", "r-b3"])})
        m = manifest(tmp_path / "s.yaml", world.forge, [f"{n}:release-1.0" for n in names + ["r-c"]])
        out = world.cli("alice", "build", str(m), "--backend", "koji", "--json")
        assert out.code == 0, out.stderr + world.tree()
        (parent,) = world.hub.tasks("streamBuild")
        result = json.loads((Path(world.hub.hub.task_dir(parent["id"])) / "result.json").read_text())
        regen = result["regenerations"]
        newrepos = world.hub.tasks("newRepo")
        assert regen["depth"] == 3 and regen["bound"] == 4
        assert regen["count"] == len(newrepos) <= 4  # one regeneration per component with dependents would be 7
        assert sorted(regen["repos"]) == sorted(world.hub.hub.tasks[t["id"]]["result"][1][0] for t in newrepos)
        (event,) = [e for e in out.events() if e.get("event") == "koji-regenerations"]
        assert event["count"] == regen["count"]
    finally:
        world.hub.stop()


def test_a_newrepo_during_a_publication_never_sees_a_half_written_repo(world, tmp_path):
    """Uploads are written in place (as kojihub's handle_upload): mergerepo_c, run in the middle of
    every upload into the stream repo, must always find a complete repository."""
    merges: List[Tuple[str, int, str]] = []
    work = tmp_path / "merges"

    def merge_now(target: str) -> None:
        parent = next(t for t in world.hub.hub.tasks.values() if t["method"] == "streamBuild")
        repo_dir = Path(world.hub.hub.task_dir(parent["id"])) / "repo"
        if not target.startswith(str(repo_dir)):
            return
        out = work / str(len(merges))
        out.mkdir(parents=True)
        url = f"{world.hub.topurl}/work/{koji.pathinfo.taskrelpath(parent['id'])}/repo/"
        proc = subprocess.run(["mergerepo_c", "--pkgorigins", "--all", "-a", "x86_64", "-o", str(out), "-r", url],
                              capture_output=True, text=True)
        merges.append((os.path.relpath(target, repo_dir), proc.returncode, proc.stderr[-300:]))

    world.hub.api.upload_hook = merge_now
    m = tiny_stream(world.forge, tmp_path / "stream-build.yaml", names=("tiny-a", "tiny-b", "tiny-c"))
    out = world.cli("alice", "build", str(m), "--backend", "koji")
    assert out.code == 0, out.stderr + world.tree()
    assert [m for m in merges if m[1] != 0] == []  # every moment of every publication was a complete repo
    uploaded = [name for name, _code, _err in merges]
    assert any(n.startswith("repodata/") for n in uploaded) and any(n.startswith("staged/") for n in uploaded)
    assert "repodata/repomd.xml" not in uploaded  # the index is never written in place


def test_priorities_use_the_hubs_build_history_then_the_sources_size(world, tmp_path):
    world.hub.add_tag("f43")
    world.hub.add_build("f43", "tiny-a", "0.9", "1.fc43", duration=1234.0)  # built on this hub before
    m = tiny_stream(world.forge, tmp_path / "stream-build.yaml")
    out = world.cli("alice", "koji", "build", str(m), "--nowait", "--json")
    assert out.code == 0, out.stderr
    assert world.hub.hub.counts["getAverageBuildDuration"] == 2 and world.hub.hub.counts["multiCall"] == 1
    (plan,) = [e["plan"] for e in out.events() if e.get("event") == "plan"]
    shown = {c["name"]: c["duration"] for c in plan["components"]}
    assert shown["tiny-a"] == {"seconds": 1234.0, "source": "history"}
    assert shown["tiny-b"]["source"] == "size" and shown["tiny-b"]["seconds"] > 0
    assert "expected durations from the hub's history: 1 of 2 components" in out.stderr
    (task,) = world.hub.tasks("streamBuild")
    sent = task["request"][0]["opts"]["components"]
    assert sent["tiny-a"]["duration"] == 1234.0 and sent["tiny-b"]["duration"] == pytest.approx(shown["tiny-b"]["seconds"], abs=0.1)


def test_nowait_then_watch(world, tmp_path):
    m = tiny_stream(world.forge, tmp_path / "stream-build.yaml")
    out = world.cli("alice", "build", str(m), "--target", "f44", "--nowait", "-p", "koji")  # koji's and fedpkg's names
    assert out.code == 0, out.stderr
    assert "stream-build koji watch" in out.stderr and "submitted" in out.stdout
    watched = world.cli("alice", "koji", "watch", str(m), "--json")
    assert watched.code == 0, watched.stderr
    assert watched.states("tiny-b")[-1] == "done"
    summary = watched.events()[-1]
    assert summary["event"] == "summary" and summary["regenerations"]["count"] == 2
    again = world.cli("alice", "koji", "watch", str(m))  # the task is done: its summary again, in words
    assert "repo regenerations of the stream tag: 2 (at most 3: plan depth 2 + 1)" in again.stdout, again.stdout
    assert (tmp_path / ".stream-build" / "repos" / "stream" / "repodata" / "repomd.xml").exists()
    assert world.hub.hub.tasks_made["streamBuild"] == 1


def test_cancel_by_a_stranger_is_refused_and_the_owner_cancels(forge, tmp_path, monkeypatch):
    world = World(forge, tmp_path, monkeypatch, builder=False)  # nothing runs: the stream stays queued
    try:
        m = tiny_stream(world.forge, tmp_path / "stream-build.yaml")
        assert world.cli("alice", "koji", "build", str(m), "--nowait").code == 0
        (task,) = world.hub.tasks("streamBuild")
        stranger = world.cli("bob", "koji", "cancel", str(m))
        assert stranger.code == 3 and "bob is neither its owner nor an admin" in stranger.stderr
        assert world.hub.task_state(task["id"]) == "FREE"
        listed = world.cli("bob", "koji", "list", "--user", "alice", "--json")
        assert [e["task_id"] for e in json.loads(listed.stdout)] == [task["id"]]
        owner = world.cli("alice", "koji", "cancel", str(m))
        assert owner.code == 0, owner.stderr
        assert world.hub.task_state(task["id"]) == "CANCELED"
        watched = world.cli("alice", "koji", "watch", str(m))
        assert watched.code == 1 and "was canceled" in watched.stderr
    finally:
        world.hub.stop()


def test_the_koji_cli_plugin_uses_the_clis_own_session(world, tmp_path):
    plugin_dir = tmp_path / "koji-plugins"
    plugin_dir.mkdir()
    shutil.copy(ROOT / "plugins" / "koji_cli_streambuild.py", plugin_dir)
    conf = world.hub.profile(tmp_path / "koji-cli.conf", "alice", "alice-pw", extra=f"plugin_paths = {plugin_dir}\n")
    koji_cli = Path(sys.executable).parent / "koji"
    login = ["-c", str(conf), "-p", "koji", "--user", "alice", "--password", "alice-pw"]  # koji reads these only here
    out = subprocess.run([str(koji_cli), *login, "stream-build", "list", "--json"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
    bad = subprocess.run([str(koji_cli), *login, "stream-build", "frobnicate"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=str(tmp_path)))
    assert bad.returncode == 2 and "give one of: build, watch, status, cancel, list" in bad.stderr
    helped = subprocess.run([str(koji_cli), *login, "stream-build", "build", "--help"],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=str(tmp_path)))
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: koji stream-build build [OPTIONS] [MANIFEST]")
    for option in ("--target KOJI_TARGET", "-p, --profile PROFILE", "--nowait", "--koji-config FILE", "--config FILE"):
        assert option in helped.stdout, option  # the same options as 'stream-build koji build'
    unknown = subprocess.run([str(koji_cli), *login, "stream-build", "list", "--frobnicate"],
                             capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=str(tmp_path)))
    assert unknown.returncode == 2 and "No such option: --frobnicate" in unknown.stderr
    assert world.hub.http_requests("alice") >= 2  # it logged in with the CLI's profile and session


class PagureDouble(BaseHTTPRequestHandler):
    """``GET /api/0/rpms/<package>?expand_group=1`` as Pagure's API 0 documents it."""

    projects = {
        "python-torch": {"access_users": {"owner": ["alice"], "admin": [], "commit": ["dave"], "collaborator": ["erin"],
                                          "ticket": ["bob"]},
                         "access_groups": {"commit": ["ml-sig"], "admin": [], "ticket": []},
                         "group_details": {"ml-sig": ["carol"]}},
    }

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        name = path.rsplit("/", 1)[-1]
        project = self.projects.get(name) if path.startswith("/api/0/rpms/") else None
        body = json.dumps(project if project else {"error": "Project not found", "error_code": "ENOPROJECT"}).encode()
        self.send_response(200 if project else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def test_commit_rights_from_a_pagure_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), PagureDouble)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rights = from_spec(f"pagure:http://127.0.0.1:{server.server_port}")  # what [policy] acl = pagure:URL gives

        def comp(name: str) -> PolicyComponent:
            return PolicyComponent(name, "dist-git", f"https://x/rpms/{name}.git", "release-2.11", "c" * 40)

        verdicts = {user: rights(user, comp("python-torch")) for user in ("alice", "dave", "carol", "erin", "bob")}
        assert verdicts == {"alice": True, "dave": True, "carol": True, "erin": None, "bob": False}
        assert rights("alice", comp("unknown")) is None
    finally:
        server.shutdown()
        server.server_close()
