"""Opt-in: the whole chain on a REAL Koji (hub, kojid, kojira) through ``../shared/realkoji``.

Set ``KOJI_SRC`` to a Koji source tree (or the harness's own ``REALKOJI_GIT`` /
``REALKOJI_SRC``, see its README) and run, as root::

    KOJI_SRC=~/src/koji .venv/bin/python -m pytest -s tests/integration/test_koji_real.py

The module starts the harness (``realkoji.py start --project <this tree>``: Koji's own hub
on PostgreSQL with this tree's hub plugin, Koji's own kojid with this tree's builder
plugin and the harness's mock stand-in, Koji's own kojira), a loopback forge (dist-git,
upstream git, lookaside) for the components, and stops the harness at the end
(``REALKOJI_KEEP=1`` keeps it running). Every test builds with the real ``stream-build``
command:

- plugin mode: ``koji build --nowait``, ``koji watch`` until the stream task is CLOSED,
  the results brought home and installed into an installroot with DNF; the stream tag's
  repo regenerations counted (at most the plan's depth + 1) and no newRepo failed;
- side-tag mode: refused with the admin's ``koji add-pkg`` while the packages are not on
  the build tag's list, then built as draft builds once an admin added them;
- a failing component: Koji's fault and the end of its build log reach the user, its
  dependents are skipped, the rest is built;
- the hub plugin's calls and policy tests in Koji's own policy engine.

Each test prints the task tree (``realkoji.py tree``) and what it checked, for the record.
The harness's README lists what it needs (Debian 12, root, PostgreSQL, dnf); it is not run
in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import koji
import pytest

from conftest import Result, add_package, manifest, spec

ROOT = Path(__file__).resolve().parents[2]
KOJI_SRC = os.environ.get("KOJI_SRC")
SOURCE = KOJI_SRC or os.environ.get("REALKOJI_GIT") or os.environ.get("REALKOJI_SRC")
STATE = Path(os.environ.get("REALKOJI_DIR") or "/tmp/realkoji")


def _harness() -> Optional[Path]:
    given = os.environ.get("REALKOJI_HARNESS")
    candidates = [Path(given)] if given else [ROOT.parent / "shared" / "realkoji", ROOT.parent.parent / "shared" / "realkoji"]
    return next((p for p in candidates if (p / "realkoji.py").is_file()), None)


HARNESS = _harness()

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SOURCE, reason="opt-in: set KOJI_SRC to a Koji source tree (or the harness's REALKOJI_GIT "
                                          "or REALKOJI_SRC) to run against Koji's real hub, kojid and kojira "
                                          "through ../shared/realkoji (docs/koji.md)"),
    pytest.mark.skipif(HARNESS is None, reason="the realkoji harness (../shared/realkoji, or $REALKOJI_HARNESS) is missing"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the realkoji harness runs as root (PostgreSQL as user postgres)"),
]

PLUGIN_CONF = """[general]
allowed_scm_hosts = 127.0.0.1 127.0.0.1:* localhost localhost:*
allowed_schemes = git http https file

[builder]
repo_poll_interval = 1
git_cache = {git_cache}
"""


class RealKoji:
    """The running harness, the loopback forge, and the stream-build command against them."""

    def __init__(self, forge, tmp: Path) -> None:
        self.forge, self.tmp = forge, tmp
        self.env = dict(os.environ)
        if KOJI_SRC:
            self.env["REALKOJI_SRC"] = KOJI_SRC
        self.run_id = uuid.uuid4().hex[:6]  # the harness's database outlives a run: names differ per run
        self.koji_conf = STATE / "koji.conf"

    def harness(self, *args: str, timeout: float = 1800) -> str:
        proc = subprocess.run(["/usr/bin/python3", str(HARNESS / "realkoji.py"), *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"realkoji.py {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
        return proc.stdout

    def start(self) -> None:
        conf = self.tmp / "streambuild.conf"
        conf.write_text(PLUGIN_CONF.format(git_cache=STATE / "gitcache"))
        self.harness("start", "--project", str(ROOT), "--hub-config", str(conf), "--lookaside",
                     self.forge.lookaside_url, "--policy-file", str(HARNESS / "policy.example"))

    def cli(self, *args: str, user: str = "alice", timeout: float = 2400) -> Result:
        proc = subprocess.run([sys.executable, "-m", "streambuild.cli", *args, "--profile", f"hub-{user}",
                               "--koji-config", str(self.koji_conf)], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env=dict(os.environ, STREAM_BUILD_CONFIG=str(self.tmp / "f.toml")))
        assert "Traceback" not in proc.stderr, proc.stderr
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def session(self, user: str = "alice") -> koji.ClientSession:
        text = self.koji_conf.read_text()
        server = text.split("server = ", 1)[1].split("\n", 1)[0]
        password = {"alice": "alicepw", "bob": "bobpw", "kojiadmin": "adminpw"}[user]
        session = koji.ClientSession(server, {"user": user, "password": password, "max_retries": 2})
        session.login()
        return session

    def tree(self, task_id: int) -> str:
        return self.harness("tree", str(task_id))

    def record(self, title: str, text: str) -> None:
        """What a run showed, for the record (run pytest with -s to see it)."""
        block = f"\n===== {title} =====\n{text.rstrip()}\n"
        print(block)
        with open(self.tmp.parent / "realkoji-summary.txt", "a", encoding="utf-8") as handle:
            handle.write(block)

    def package(self, name: str, branch: str = "release-1.0", **spec_args: object) -> str:
        full = f"{name}-{self.run_id}"
        brs = [f"{b}-{self.run_id}" for b in spec_args.pop("buildrequires", [])]  # type: ignore[union-attr]
        add_package(self.forge, full, branch, {f"{full}.spec": spec(full, buildrequires=brs, **spec_args)})
        return full


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Iterator[RealKoji]:
    sys.path.insert(0, str(ROOT / "examples"))
    import localforge

    tmp = tmp_path_factory.mktemp("realkoji")
    (tmp / "f.toml").write_text("")
    with localforge.LocalForge(tmp / "forge") as forge:
        world = RealKoji(forge, tmp)
        world.start()
        try:
            yield world
        finally:
            if not os.environ.get("REALKOJI_KEEP"):
                world.harness("stop", timeout=600)


def stream_task(workdir: Path) -> int:
    return int(json.loads((workdir / "koji.json").read_text())["task_id"])


def newrepos(session: koji.ClientSession, tag: str) -> List[Dict]:
    tasks = session.listTasks(opts={"method": "newRepo", "decode": True}, queryOpts={"order": "id"})
    return [t for t in tasks if (t["request"][0] or {}).get("name") == tag]


def test_plugin_mode_to_closed_then_watch_and_install(real, tmp_path):
    """Chained scratch builds on Koji's kojid, waiting for repos made by Koji's kojira."""
    a = real.package("rk-a")
    b = real.package("rk-b", buildrequires=["rk-a"])
    c = real.package("rk-c", buildrequires=["rk-b"])
    d = real.package("rk-d", buildrequires=["rk-a"])
    root = tmp_path / "root"
    m = manifest(tmp_path / "stream-build.yaml", real.forge, [f"{n}:release-1.0" for n in (a, b, c, d)]
                 + ["tinypython3.11:release-3.11"],
                 extra=f"name: real-{real.run_id}\ninstall:\n  type: installroot\n  path: {root}\n  packages:\n  - {c}\n")
    submitted = real.cli("koji", "build", str(m), "--nowait")
    assert submitted.code == 0, submitted.stderr
    task_id = stream_task(tmp_path / ".stream-build")
    watched = real.cli("koji", "watch", str(m))
    tree = real.tree(task_id)
    assert watched.code == 0, watched.stderr + tree
    session = real.session()
    info = session.getTaskInfo(task_id, request=True)
    assert koji.TASK_STATES[info["state"]] == "CLOSED"
    tag = info["request"][0]["tag"]
    regens = newrepos(session, tag)
    assert regens and all(koji.TASK_STATES[t["state"]] == "CLOSED" for t in regens), regens  # no deadlock
    result = json.loads(session.downloadTaskOutput(task_id, "result.json"))  # the ClientSession decodes it
    regen = result["regenerations"]
    assert regen["depth"] == 3 and regen["count"] <= regen["bound"] == 4
    assert len(regens) <= regen["bound"]
    assert f"repo regenerations of the stream tag: {regen['count']} (at most 4: plan depth 3 + 1)" in watched.stdout
    assert all(c["state"] == "done" for c in result["components"])
    repo = tmp_path / ".stream-build" / "repos" / "stream" / "repodata" / "repomd.xml"
    assert repo.is_file()
    installed = subprocess.run([sys.executable, "-m", "streambuild.cli", "install", "-m", str(m), "-y"],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    assert subprocess.run(["rpm", "--root", str(root), "--dbpath", "/usr/lib/sysimage/rpm", "-q", c], capture_output=True).returncode == 0
    real.record("plugin mode: koji build --nowait, koji watch, install", "\n".join([
        f"stream task {task_id}: CLOSED; stream tag {tag}",
        f"regenerations: {regen['count']} (bound {regen['bound']}, plan depth {regen['depth']}), newRepo tasks of "
        f"the stream tag: {len(regens)}, all CLOSED",
        "watch summary:", watched.stdout.rstrip(), "task tree:", tree]))


def test_side_tag_mode_needs_the_package_list_then_builds_drafts(real, tmp_path):
    a = real.package("rk-sa")
    b = real.package("rk-sb", buildrequires=["rk-sa"])
    m = manifest(tmp_path / "stream-build.yaml", real.forge, [f"{a}:release-1.0", f"{b}:release-1.0"],
                 extra=f"name: side-{real.run_id}\n")
    refused = real.cli("koji", "build", str(m), "--mode", "sidetag")
    assert refused.code == 3, refused.stderr
    assert f"a Koji admin must add them: koji add-pkg --owner alice f44-build {a} {b}" in refused.stderr
    real.harness("admin", "add-pkg", "--owner", "kojiadmin", "f44-build", a, b)
    built = real.cli("koji", "build", str(m), "--mode", "sidetag", "--json")
    assert built.code == 0, built.stderr
    sidetag = json.loads((tmp_path / ".stream-build" / "koji.json").read_text())["sidetag"]
    session = real.session()
    tagged = sorted(b["nvr"] for b in session.listTagged(sidetag))
    assert len(tagged) == 2 and all(",draft_" in nvr for nvr in tagged), tagged
    tasks = json.loads((tmp_path / ".stream-build" / "koji.json").read_text())["tasks"]
    real.record("side-tag mode", "\n".join([f"refused first: {refused.stderr.strip().splitlines()[-1]}",
                                            f"side tag {sidetag}: {', '.join(tagged)}"]
                                           + [real.tree(t) for t in tasks.values()]))


def test_a_failing_component_shows_kojis_reason(real, tmp_path):
    broken = real.package("rk-broken", build="echo the-compiler-said-boom; exit 1")
    needs = real.package("rk-needs", buildrequires=["rk-broken"])
    fine = real.package("rk-fine")
    m = manifest(tmp_path / "stream-build.yaml", real.forge, [f"{n}:release-1.0" for n in (broken, needs, fine)],
                 extra=f"name: failing-{real.run_id}\n")
    out = real.cli("koji", "build", str(m), "--json")
    assert out.code == 1, out.stderr
    (failed,) = [e for e in out.events() if e.get("state") == "failed"]
    assert failed["component"] == broken and "failed" in failed["message"] and "the-compiler-said-boom" in failed["log_tail"]
    assert out.states(needs)[-1] == "skipped" and out.states(fine)[-1] == "done"
    task_id = stream_task(tmp_path / ".stream-build")
    session = real.session()
    assert koji.TASK_STATES[session.getTaskInfo(task_id)["state"]] == "FAILED"
    real.record("a failing component", "\n".join([f"message: {failed['message']}", "log tail:", failed["log_tail"],
                                                  "task tree:", real.tree(task_id)]))


def test_the_hub_plugin_in_kojis_own_hub(real, tmp_path):
    """Idempotent submit, a lock refused field by field, a policy test in Koji's engine, cancel rights."""
    a = real.package("rk-p")
    head = subprocess.run(["git", "--git-dir", str(real.forge.layout.repo(a, "rpms")), "rev-parse", "release-1.0"],
                          capture_output=True, text=True, check=True).stdout.strip()
    url = f"{real.forge.distgit_url}{a}.git"

    def lock(branch: str = "release-1.0", commit: str = head, url: str = url) -> Dict:
        return {"version": 1, "base": "fedora-44-x86_64", "components": [
            {"name": a, "type": "dist-git", "url": url, "ref": branch, "resolved": f"refs/heads/{branch}",
             "commit": commit}]}

    def opts(key: str) -> Dict:
        return {"idempotency_key": key, "stream": f"plugin-{real.run_id}", "components": {a: {"packages": [a]}}}

    alice, bob = real.session("alice"), real.session("bob")
    key = uuid.uuid4().hex
    task = alice.callMethod("streambuild.submit", lock(), "f44", opts(key))
    assert alice.callMethod("streambuild.submit", lock(), "f44", opts(key)) == task  # idempotent
    with pytest.raises(koji.ActionNotAllowed, match="belongs to another user"):
        bob.callMethod("streambuild.submit", lock(), "f44", opts(key))
    with pytest.raises(koji.ActionNotAllowed, match="release-series-branch"):
        alice.callMethod("streambuild.submit", lock("f44"), "f44", opts(uuid.uuid4().hex))
    with pytest.raises(koji.ParameterError, match="carries user information"):
        alice.callMethod("streambuild.submit", lock(url=url.replace("git://", "git://me:pw@")), "f44",
                         opts(uuid.uuid4().hex))
    with pytest.raises(koji.ActionNotAllowed, match="neither its owner nor an admin"):
        bob.callMethod("streambuild.cancel", task)
    deadline = time.time() + 600
    while alice.callMethod("streambuild.status", task)["state"] not in ("CLOSED", "FAILED") and time.time() < deadline:
        time.sleep(3)
    status = alice.callMethod("streambuild.status", task)
    assert status["state"] == "CLOSED", real.tree(task)
    real.record("hub plugin calls", json.dumps({k: status[k] for k in ("state", "regenerations")}))
