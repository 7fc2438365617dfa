"""The whole local pipeline on real parts: git daemon, HTTP lookaside, rpmbuild, createrepo_c, DNF4."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import add_package, cli, manifest, needs_rpm, spec

pytestmark = [pytest.mark.integration, needs_rpm]

EXAMPLE = ["tinypython3.11:release-3.11", "tinytorch:release-2.11"]


def rpm_installed(root: Path, name: str) -> bool:
    """Whether the root's rpm database, where Fedora keeps it, has ``name``."""
    query = ["rpm", "--root", str(root), "--dbpath", "/usr/lib/sysimage/rpm", "-q", name]
    return subprocess.run(query, capture_output=True).returncode == 0


def test_run_installs_the_example_and_a_rerun_builds_nothing(forge, tmp_path):
    root = tmp_path / "root"
    m = forge.write_manifest(tmp_path / "stream-build.yaml", root)
    first = cli("run", str(m), "--json", "-j", "2", "-y")
    assert first.code == 0, first.stderr
    for name in ("tinypython3.11", "tinytorch", "tinyllm"):
        assert first.states(name) == ["waiting", "building", "done"]
        assert rpm_installed(root, name)
    # exactly what was asked for plus its runtime dependencies: no -devel packages
    assert not rpm_installed(root, "tinytorch-devel")
    summary = [e for e in first.events() if e.get("event") == "install-summary"][0]
    assert sorted(n.split("-")[0] for n in summary["installed"]) == ["tinyllm", "tinypython3.11", "tinytorch"]
    # dependency order: each build started only after what it needs was done
    order = [(e["component"], e["state"]) for e in first.events() if e.get("event") == "component"]
    assert order.index(("tinytorch", "building")) > order.index(("tinypython3.11", "done"))
    assert order.index(("tinyllm", "building")) > order.index(("tinytorch", "done"))

    second = cli("run", str(m), "--json", "-y")
    assert second.code == 0, second.stderr
    for name in ("tinypython3.11", "tinytorch", "tinyllm"):
        assert second.states(name) == ["waiting", "cached"]
    repo = tmp_path / ".stream-build" / "repos" / "stream"
    assert (repo / "repodata" / "repomd.xml").exists()
    assert sorted(p.name for p in repo.glob("*.rpm")) == sorted(
        ["tinypython3.11-3.11.9-1.fc44.noarch.rpm", "tinypython3.11-devel-3.11.9-1.fc44.noarch.rpm",
         "tinytorch-2.11.0-1.fc44.noarch.rpm", "tinytorch-devel-2.11.0-1.fc44.noarch.rpm",
         "tinyllm-0.20.0-1.fc44.noarch.rpm"]
    )


def test_plan_json_dot_and_text(forge, tmp_path):
    m = forge.write_manifest(tmp_path / "s.yaml")
    out = cli("plan", str(m), "--json")
    assert out.code == 0, out.stderr
    plan = json.loads(out.stdout)
    comps = {c["name"]: c for c in plan["components"]}
    assert comps["tinytorch"]["after"] == ["tinypython3.11"]
    assert comps["tinyllm"]["after"] == ["tinytorch"]
    assert comps["tinyllm"]["version"] == "0.20.0-1.fc44"  # version from the ref v0.20.0
    assert all(len(c["commit"]) == 40 and c["buildonly"] is False for c in comps.values())
    assert plan["batches"] == [["tinypython3.11"], ["tinytorch"], ["tinyllm"]]
    assert plan["critical_path"] == ["tinypython3.11", "tinytorch", "tinyllm"]
    dot = cli("plan", str(m), "--dot", "--locked")
    assert dot.code == 0 and '"tinytorch" -> "tinyllm";' in dot.stdout
    text = cli("plan", str(m), "--locked")
    assert "critical path: tinypython3.11 -> tinytorch -> tinyllm" in text.stdout


def test_lock_is_deterministic_locked_refuses_changes_and_new_commits_rebuild_dependents(forge, tmp_path):
    m = forge.write_manifest(tmp_path / "s.yaml", tmp_path / "root")
    assert cli("lock", str(m)).code == 0
    lock_file = tmp_path / "s.lock"
    first = lock_file.read_bytes()
    assert cli("lock", str(m)).code == 0
    assert lock_file.read_bytes() == first
    assert cli("build", str(m), "--locked").code == 0

    # a new commit on the branch: --locked keeps the old commit, 'lock' takes the new one
    new = forge.add_commit("tinytorch", "release-2.11", {"README.stream": "rebuilt\n"}, "touch")
    assert cli("lock", str(m)).code == 0
    assert new in lock_file.read_text()
    rebuilt = cli("build", str(m), "--locked", "--json")
    assert rebuilt.code == 0, rebuilt.stderr
    assert rebuilt.states("tinypython3.11")[-1] == "cached"
    assert rebuilt.states("tinytorch")[-1] == "done"
    assert rebuilt.states("tinyllm")[-1] == "done"  # its dependency changed

    # the manifest changes under the lock: --locked says exactly what differs
    m.write_text(m.read_text().replace("tinytorch:release-2.11", "tinytorch:release-2.10"))
    before = lock_file.read_bytes()
    out = cli("plan", str(m), "--locked")
    assert out.code == 2
    assert "component tinytorch: ref is 'release-2.10' in the manifest, 'release-2.11' in the lock" in out.stderr
    assert lock_file.read_bytes() == before


@pytest.mark.parametrize(
    "packages, words",
    [
        (["tinytorch:release-9.99"], "has no branch or tag 'release-9.99'"),
        (["no-such-package:main"], "component no-such-package"),
    ],
)
def test_missing_refs_and_repositories(forge, tmp_path, packages, words):
    m = manifest(tmp_path / "s.yaml", forge, packages)
    out = cli("lock", str(m))
    assert out.code == 2
    assert words in out.stderr and "s.yaml:7:5" in out.stderr
    assert not (tmp_path / "s.lock").exists()


def test_unreachable_git_url(tmp_path):
    m = tmp_path / "s.yaml"
    m.write_text("base: fedora-44-x86_64\nbuild:\n- type: dist-git\n  url: git://127.0.0.1:9/rpms/\n"
                 "  lookaside: http://127.0.0.1:9/\n  packages: [a:main]\n")
    out = cli("plan", str(m))
    assert out.code == 2
    assert "component a" in out.stderr and "127.0.0.1:9" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".stream-build", "s.yaml"]


def test_lookaside_hash_mismatch_is_refused(forge, tmp_path):
    forge.corrupt_lookaside("tinypython3.11", "tinypython-3.11.9.tar.gz")
    m = manifest(tmp_path / "s.yaml", forge, EXAMPLE)
    out = cli("build", str(m))
    assert out.code == 2
    assert "tinypython-3.11.9.tar.gz" in out.stderr and "sha512" in out.stderr and "sources file says" in out.stderr
    cache = tmp_path / ".stream-build" / "lookaside"
    assert not any(p.name == "tinypython-3.11.9.tar.gz" for p in cache.rglob("*"))
    assert not (tmp_path / ".stream-build" / "repos").exists()


def test_cycle_the_base_cannot_break_is_reported_as_a_path(forge, tmp_path):
    add_package(forge, "cyc-a", "main", {"cyc-a.spec": spec("cyc-a", buildrequires=["cyc-b"])})
    add_package(forge, "cyc-b", "main", {"cyc-b.spec": spec("cyc-b", buildrequires=["cyc-a"])})
    m = manifest(tmp_path / "s.yaml", forge, ["cyc-a:main", "cyc-b:main"])
    out = cli("plan", str(m))
    assert out.code == 2
    assert "cycle" in out.stderr and "cyc-a" in out.stderr and "cyc-b" in out.stderr and "->" in out.stderr


def test_cycle_broken_where_the_base_provides_the_edge(forge, tmp_path):
    add_package(forge, "cyc-a", "main", {"cyc-a.spec": spec("cyc-a", buildrequires=["cyc-b"])})
    add_package(forge, "cyc-b", "main", {"cyc-b.spec": spec("cyc-b", buildrequires=["cyc-a"])})
    # the base distribution ships an older cyc-a: a real repository made with createrepo_c
    base_repo = tmp_path / "base-repo"
    top = tmp_path / "rpmbuild"
    (tmp_path / "cyc-a.spec").write_text(spec("cyc-a", version="0.9"))
    subprocess.run(["rpmbuild", "--define", f"_topdir {top}", "--define", f"_rpmdir {base_repo}",
                    "--nodeps", "-bb", str(tmp_path / "cyc-a.spec")], check=True, capture_output=True)
    subprocess.run(["createrepo_c", "-q", str(base_repo)], check=True)
    m = manifest(tmp_path / "s.yaml", forge, ["cyc-a:main", "cyc-b:main"], extra=f"base_repos: ['file://{base_repo}']\n")
    out = cli("plan", str(m), "--json")
    assert out.code == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["broken_edges"] == [{"component": "cyc-b", "built_before": "cyc-a", "capabilities": ["cyc-a"]}]
    assert plan["batches"] == [["cyc-b"], ["cyc-a"]]


def test_keep_going_skips_dependents_and_finishes_independent_components(forge, tmp_path):
    add_package(forge, "broken", "main", {"broken.spec": spec("broken", build="echo compiler exploded; exit 1")})
    add_package(forge, "needs-broken", "main", {"needs-broken.spec": spec("needs-broken", buildrequires=["broken"])})
    add_package(forge, "independent", "main", {"independent.spec": spec("independent")})
    m = manifest(tmp_path / "s.yaml", forge, ["broken:main", "needs-broken:main", "independent:main"])
    out = cli("build", str(m), "--keep-going", "--json", "-j", "1")
    assert out.code == 1
    assert out.states("broken")[-1] == "failed"
    assert out.states("needs-broken")[-1] == "skipped"
    assert out.states("independent")[-1] == "done"
    failed = [e for e in out.events() if e.get("state") == "failed"][0]
    assert "compiler exploded" in failed["log_tail"]
    assert Path(failed["log"]).read_text().count("compiler exploded") >= 1
    assert "1 component(s) failed: broken" in out.stderr
    assert not (tmp_path / ".stream-build" / "repos" / "stream").exists()  # nothing published half-way

    stop = cli("build", str(m), "--json", "-j", "1")
    assert stop.code == 1
    assert stop.states("independent")[-1] in ("cached", "not-started")


def test_a_versioned_requirement_the_stream_cannot_meet_stops_the_plan(forge, tmp_path):
    add_package(forge, "wants-missing", "main", {"wants-missing.spec": spec("wants-missing", buildrequires=["tinytorch-devel >= 9"])})
    m = manifest(tmp_path / "s.yaml", forge, EXAMPLE + ["wants-missing:main"])
    out = cli("build", str(m), "--keep-going", "--json")
    assert out.code == 2
    assert "wants-missing needs tinytorch-devel >= 9; the stream's tinytorch provides tinytorch-devel = 2.11" in out.stderr
    assert not [e for e in out.events() if e.get("state") == "building"]  # refused before anything was built


def test_buildonly_components_are_kept_out_of_the_stream_repo(forge, tmp_path):
    add_package(forge, "bo-tool", "main", {"bo-tool.spec": spec("bo-tool")})
    add_package(forge, "app", "main", {"app.spec": spec("app", buildrequires=["bo-tool"])})
    root = tmp_path / "root"
    m = manifest(tmp_path / "s.yaml", forge, ["{name: bo-tool, ref: main, buildonly: true}", "app:main"],
                 extra=f"install: {{type: installroot, path: {root}, packages: [app]}}\n")
    out = cli("run", str(m), "--json", "-y")
    assert out.code == 0, out.stderr
    repos = tmp_path / ".stream-build" / "repos"
    assert [p.name for p in (repos / "stream").glob("*.rpm")] == ["app-1.0-1.fc44.noarch.rpm"]
    assert [p.name for p in (repos / "buildonly").glob("*.rpm")] == ["bo-tool-1.0-1.fc44.noarch.rpm"]
    assert rpm_installed(root, "app") and not rpm_installed(root, "bo-tool")
    plan = json.loads(cli("plan", str(m), "--json").stdout)
    assert {c["name"]: c["buildonly"] for c in plan["components"]} == {"bo-tool": True, "app": False}
    install = cli("install", "-m", str(m), "bo-tool", "--installroot", str(root), "-y")
    assert install.code == 2 and "'bo-tool' is not provided by the stream" in install.stderr


def test_jobs_build_independent_components_side_by_side(forge, tmp_path):
    for name in ("slow-a", "slow-b"):
        add_package(forge, name, "main", {f"{name}.spec": spec(name, build="sleep 1")})
    m = manifest(tmp_path / "s.yaml", forge, ["slow-a:main", "slow-b:main"])
    out = cli("build", str(m), "-j", "2", "--json")
    assert out.code == 0, out.stderr
    order = [(e["component"], e["state"]) for e in out.events() if e.get("event") == "component"]
    first_done = min(order.index(("slow-a", "done")), order.index(("slow-b", "done")))
    assert order.index(("slow-a", "building")) < first_done and order.index(("slow-b", "building")) < first_done


def test_resume_after_an_interrupt_rebuilds_nothing_that_finished(forge, tmp_path):
    add_package(forge, "quick", "main", {"quick.spec": spec("quick")})
    add_package(forge, "slow", "main", {"slow.spec": spec("slow", buildrequires=["quick"], build="sleep 8")})
    m = manifest(tmp_path / "s.yaml", forge, ["quick:main", "slow:main"])
    proc = subprocess.Popen([sys.executable, "-m", "streambuild.cli", "build", str(m), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # type: ignore[union-attr]
        event = json.loads(line)
        if event.get("component") == "slow" and event.get("state") == "building":
            break
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)  # to stream-build only: it must stop the rpmbuild it started itself
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 7, f"the build under way was not stopped: {err}"
    assert proc.returncode == 130 and "--resume" in err and "Traceback" not in err
    status = cli("status", str(m))
    assert "interrupted" in status.stdout
    assert not list((tmp_path / ".stream-build" / "results").glob("slow/*"))  # nothing half-stored

    add_package(forge, "slow", "main", {"slow.spec": spec("slow", buildrequires=["quick"])})  # moves the branch
    resumed = cli("build", str(m), "--resume", "--json")
    assert resumed.code == 0, resumed.stderr
    assert resumed.states("quick")[-1] == "cached"
    assert resumed.states("slow")[-1] == "done"
    # --resume builds the locked commit (the slow spec), not the new head of the branch
    log = next((tmp_path / ".stream-build" / "results").glob("slow/*/build.log"))
    assert "sleep 8" in log.read_text()


def test_a_second_run_on_the_same_workdir_is_refused(forge, tmp_path):
    from streambuild.workdir import WorkDir

    m = forge.write_manifest(tmp_path / "s.yaml")
    with WorkDir(str(tmp_path / ".stream-build")):
        out = cli("build", str(m))
    assert out.code == 4
    assert "is in use by another stream-build run" in out.stderr


def test_install_before_build_and_unknown_packages(forge, tmp_path):
    m = forge.write_manifest(tmp_path / "s.yaml", tmp_path / "root")
    out = cli("install", "-m", str(m))
    assert out.code == 2 and "has not been built" in out.stderr
    assert cli("build", str(m)).code == 0
    out = cli("install", "-m", str(m), "no-such-rpm", "--installroot", str(tmp_path / "root"), "-y")
    assert out.code == 2 and "'no-such-rpm' is not provided by the stream" in out.stderr
    assert not rpm_installed(tmp_path / "root", "tinyllm")


def test_a_branch_that_moved_since_the_lock_is_said_and_the_locked_commit_built(forge, tmp_path):
    m = manifest(tmp_path / "s.yaml", forge, EXAMPLE)
    assert cli("build", str(m)).code == 0
    locked = json.loads((tmp_path / "s.lock").read_text())
    before = next(c["commit"] for c in locked["components"] if c["name"] == "tinytorch")
    after = forge.add_commit("tinytorch", "release-2.11", {"NOTES": "a pushed fix\n"}, "Fix")
    again = cli("build", str(m), "--json")
    assert again.code == 0, again.stderr
    assert (f"warning: tinytorch release-2.11 moved {before[:7]} \u2192 {after[:7]}; building the locked commit; "
            "'stream-build lock' to update") in again.stderr
    assert again.states("tinytorch")[-1] == "cached"  # the locked commit, not the new one
    drift = [line for line in again.stderr.splitlines() if "moved" in line]
    assert len(drift) == 1 and "tinypython3.11" not in drift[0]  # only what moved is named
    update = cli("lock", str(m))
    assert update.code == 0, update.stderr
    assert f"changed: tinytorch release-2.11 {before[:7]} \u2192 {after[:7]}" in update.stdout
    assert "moved" not in cli("build", str(m)).stderr


def test_the_full_example_builds_a_real_stack_against_its_own_contents(forge, tmp_path):
    """The README's example: tinyzip compiles and links against the stream's tinyz, writes its config
    header with the stream's tinyconf in %build, runs its tests in %check, and says which series it got."""
    root = tmp_path / "root"
    m = forge.write_manifest(tmp_path / "stream-build.yaml", root, stack="full")
    first = cli("run", str(m), "--json", "-j", "2", "-y")
    assert first.code == 0, first.stderr + first.stdout[-3000:]
    order = [(e["component"], e["state"]) for e in first.events() if e.get("event") == "component"]
    for dependency in ("tinyz", "python-tinyconf"):
        assert order.index(("tinyzip", "building")) > order.index((dependency, "done"))
    assert rpm_installed(root, "tinyzip") and rpm_installed(root, "tinyz")
    assert not rpm_installed(root, "tinyz-devel") and not rpm_installed(root, "python3-tinyconf")  # build-time only

    def version() -> str:
        libdir = subprocess.run(["rpm", "--eval", "%{_libdir}"], capture_output=True, text=True).stdout.strip()
        out = subprocess.run([str(root / "usr/bin/tinyzip"), "--version"], capture_output=True, text=True,
                             env={"LD_LIBRARY_PATH": f"{root}{libdir}"})
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert version() == ("tinyzip 1.0.0, built against tinyz 2.1.0 (series 2, libtinyz.so.2), running with "
                         "libtinyz 2.1.0\nconfigured at build time by tinyconf 0.3.1\n")
    log = next((tmp_path / ".stream-build" / "results" / "tinyzip").glob("*/build.log")).read_text()
    assert "6 samples round-trip" in log  # its %check, importing tinyconf, against the fresh binary

    # the other series: tinyz and what links it are rebuilt, nothing else; the program follows the API change
    m.write_text(m.read_text().replace("tinyz:release-2", "tinyz:release-1"))
    other = cli("run", str(m), "--json", "-y", "--installroot", str(tmp_path / "root1"))
    assert other.code == 0, other.stderr + other.stdout[-3000:]
    assert other.states("tinyz")[-1] == "done" and other.states("tinyzip")[-1] == "done"
    assert all(other.states(n)[-1] == "cached" for n in ("tinypython3.11", "tinytorch", "tinyllm", "python-tinyconf"))
    root = tmp_path / "root1"
    assert version().startswith("tinyzip 1.0.0, built against tinyz 1.4.2 (series 1, libtinyz.so.1)")

    again = cli("run", str(m), "--json", "-y", "--installroot", str(root))
    assert again.code == 0, again.stderr
    assert all(states[-1] == "cached" for states in (again.states(n) for n in
               ("tinypython3.11", "tinytorch", "tinyllm", "tinyz", "python-tinyconf", "tinyzip")))
    assert [e for e in again.events() if e.get("event") == "install-summary"][0]["installed"] == []
