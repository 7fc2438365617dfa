"""``stream-build check`` and the preflight of ``build``/``run``, on real git, rpm and createrepo_c."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import List, Set, Tuple

import pytest

from conftest import add_package, cli, manifest, needs_rpm, spec

pytestmark = [pytest.mark.integration, needs_rpm]

RULES = {"commit-rights", "reachable-commit", "release-series-branch", "buildonly", "unique-binary-names",
         "base-collision", "macros-approval", "series-audit"}


def findings(out) -> List[dict]:
    data = json.loads(out.stdout)  # one document; a denial's error is part of it, with the exit code
    assert sorted(data) == (["error", "findings"] if out.code == 3 else ["findings"])
    if out.code == 3:
        assert data["error"]["error"] == "PolicyDenied" and data["error"]["exit_code"] == 3
    for finding in data["findings"]:
        assert set(finding) == {"component", "rule", "verdict", "reason", "hint"}
        assert finding["verdict"] in ("deny", "warn", "allow")
    return data["findings"]


def triples(found: List[dict]) -> Set[Tuple[str, str, str]]:
    return {(f["component"], f["rule"], f["verdict"]) for f in found}


def base_repo(tmp_path: Path) -> Path:
    """A base distribution repository made with rpmbuild and createrepo_c: ships 'collider' and 'replacer'."""
    repo, top = tmp_path / "base-repo", tmp_path / "rpmbuild"
    (tmp_path / "collider.spec").write_text(spec("collider", version="0.9", subpackages=["-n replacer"]))
    subprocess.run(["rpmbuild", "--define", f"_topdir {top}", "--define", f"_rpmdir {repo}", "--nodeps", "-bb",
                    str(tmp_path / "collider.spec")], check=True, capture_output=True)
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
    return repo


def test_the_clean_example_passes(forge, tmp_path):
    m = forge.write_manifest(tmp_path / "stream-build.yaml")
    out = cli("check", str(m), "--json")
    assert out.code == 0, out.stderr
    found = findings(out)
    assert {f["rule"] for f in found} == RULES
    assert not [f for f in found if f["verdict"] == "deny"]
    assert ("tinypython3.11", "release-series-branch", "allow") in triples(found)
    assert ("tinyllm", "reachable-commit", "allow") in triples(found)  # the upstream tag is on a branch
    text = cli("check", str(m), "--locked")
    assert text.code == 0 and "0 denied" in text.stdout and "allow  tinytorch" in text.stdout


def test_a_stream_set_built_to_break_each_rule(forge, tmp_path):
    for name in ("dup-a", "dup-b"):
        add_package(forge, name, "release-1.0", {f"{name}.spec": spec(name, subpackages=["-n shared-tools"])})
    add_package(forge, "bo-tool", "release-1.0", {"bo-tool.spec": spec("bo-tool")})
    add_package(forge, "collider", "release-1.0", {"collider.spec": spec("collider")})
    add_package(forge, "replacer", "release-1.0", {"replacer.spec": spec("replacer")})
    repo = base_repo(tmp_path)
    acl_file = tmp_path / "acl.txt"
    acl_file.write_text("# package  users who may commit\ntinypython3.11 bob\ntinytorch alice bob\n")
    config = tmp_path / "forges.toml"
    config.write_text('[policy]\napproved_macros = ["_with_tests"]\n')
    m = manifest(tmp_path / "broken.yaml", forge, [
        "tinypython3.11:release-3.11",
        "tinytorch:rawhide",
        "dup-a:release-1.0",
        "dup-b:release-1.0",
        "{name: bo-tool, ref: release-1.0, buildonly: true}",
        "collider:release-1.0",
        "{name: replacer, ref: release-1.0, replaces: true, macros: {_with_tests: 1}}",
    ], extra=(f"base_repos: ['file://{repo}']\nmacros: {{_with_bootstrap: 1}}\n"
              "install: {type: installroot, path: root, packages: [dup-a, bo-tool]}\n"))
    out = cli("check", str(m), "--json", "--user", "alice", "--acl-file", str(acl_file), "--config", str(config))
    assert out.code == 3, out.stderr
    found = triples(findings(out))
    assert {
        ("tinypython3.11", "commit-rights", "deny"),  # alice is not on its list
        ("tinytorch", "commit-rights", "allow"),
        ("tinytorch", "release-series-branch", "deny"),  # a Fedora branch
        ("tinypython3.11", "release-series-branch", "allow"),
        ("dup-a", "unique-binary-names", "deny"),
        ("dup-b", "unique-binary-names", "deny"),
        ("bo-tool", "buildonly", "deny"),  # named in install.packages
        ("collider", "base-collision", "deny"),  # the base ships 'collider' too, undeclared
        ("replacer", "base-collision", "allow"),  # declared with replaces: true
        ("*", "macros-approval", "deny"),  # _with_bootstrap is not approved
        ("replacer", "macros-approval", "allow"),  # _with_tests is
    } <= found
    assert ("tinytorch", "reachable-commit", "allow") in found
    assert "finding(s) deny this stream set" in out.stderr
    for rule in ("base-collision", "buildonly", "commit-rights", "macros-approval", "release-series-branch",
                 "unique-binary-names"):
        assert rule in out.stderr
    text = cli("check", str(m), "--locked", "--user", "alice", "--acl-file", str(acl_file), "--config", str(config))
    assert text.code == 3
    assert "DENY   dup-a" in text.stdout and "binary package shared-tools is also built by dup-b" in text.stdout
    assert "hint: declare replaces: true" in text.stdout


def test_a_force_pushed_commit_is_on_no_branch_and_build_refuses_it(forge, tmp_path):
    add_package(forge, "moving", "release-1.0", {"moving.spec": spec("moving")})
    m = manifest(tmp_path / "s.yaml", forge, ["moving:release-1.0"])
    first = cli("check", str(m), "--json")
    assert first.code == 0, first.stderr
    assert ("moving", "reachable-commit", "allow") in triples(findings(first))
    add_package(forge, "moving", "release-1.0", {"moving.spec": spec("moving", version="2.0")})  # force-push
    out = cli("check", str(m), "--locked", "--json")
    assert out.code == 3
    denied = [f for f in findings(out) if f["verdict"] == "deny"]
    assert [(f["component"], f["rule"]) for f in denied] == [("moving", "reachable-commit")]
    assert "is on no branch of" in denied[0]["reason"] and "force-push" in denied[0]["hint"]

    build = cli("build", str(m), "--locked", "--json")
    assert build.code == 3
    assert "moving: reachable-commit: commit" in build.stderr and "--no-check" in build.stderr
    policy = [e for e in build.events() if e.get("event") == "policy"]
    assert policy and policy[0]["denied"] == 1
    assert not [e for e in build.events() if e.get("event") == "component"]  # nothing was built
    assert not (tmp_path / ".stream-build" / "repos").exists()

    forced = cli("build", str(m), "--locked", "--no-check", "--json")
    assert forced.code == 0, forced.stderr
    assert "--no-check: the stream policies are not checked" in forced.stderr
    assert forced.states("moving")[-1] == "done"
    journal = [json.loads(line) for line in (tmp_path / ".stream-build" / "journal.jsonl").read_text().splitlines()]
    starts = [r for r in journal if r.get("event") == "run-start"]
    assert starts[-1]["checked"] is False
    assert any(r.get("event") == "policy" and r.get("skipped") for r in journal)


def test_preflight_only_warns_about_branch_names_but_denies_unapproved_macros(forge, tmp_path, monkeypatch):
    add_package(forge, "scratch", "main", {"scratch.spec": spec("scratch")})
    m = manifest(tmp_path / "s.yaml", forge, ["scratch:main"], extra="macros: {_with_bootstrap: 1}\n")
    denied = cli("run", str(m), "--json")
    assert denied.code == 3
    assert "*: macros-approval: overriding macro _with_bootstrap is not approved" in denied.stderr
    assert "release-series-branch" not in denied.stderr  # advisory before local builds
    assert not (tmp_path / ".stream-build" / "results").exists()

    config = tmp_path / "forges.toml"
    config.write_text('[policy]\napproved_macros = ["_with_bootstrap"]\n')
    monkeypatch.setenv("STREAM_BUILD_CONFIG", str(config))
    built = cli("build", str(m), "--json")
    assert built.code == 0, built.stderr
    policy = [e for e in built.events() if e.get("event") == "policy"][0]
    naming = [f for f in policy["findings"] if f["rule"] == "release-series-branch"][0]
    assert naming["verdict"] == "warn" and "advisory before local builds" in naming["reason"]
    assert built.states("scratch")[-1] == "done"
    # 'check' itself is strict
    assert cli("check", str(m)).code == 3


@pytest.mark.parametrize("args, files, words", [
    (["--user", "alice;id"], {}, "--user 'alice;id' is not valid"),
    (["--acl-file", "missing.txt"], {}, "missing.txt: ACL file not found"),
    (["--acl-file", "acl.txt"], {"acl.txt": "tinytorch\n"}, "acl.txt:1: expected a package and the users"),
    (["--acl-file", "acl.txt"], {"acl.txt": "tinytorch alice $(id)\n"}, "acl.txt:1: user name '$(id)' is not valid"),
    (["--config", "f.toml"], {"f.toml": "[policy]\nsurprise = 1\n"}, "f.toml: unknown key 'surprise' in policy"),
    (["--config", "f.toml"], {"f.toml": "[acl]\nsource = 'file'\n"}, "acl.source 'file' needs acl.file"),
    (["--config", "f.toml"], {"f.toml": "user = [\n"}, "f.toml: not valid TOML"),
    (["--config", "f.toml"], {"f.toml": "[policy]\napproved_macros = ['a b']\n"}, "macro name 'a b' is not valid"),
])
def test_bad_check_inputs_exit_2_before_any_work(tmp_path, args, files, words):
    (tmp_path / "s.yaml").write_text("base: fedora-44-x86_64\nbuild:\n- type: dist-git\n"
                                     "  url: git://127.0.0.1:9/rpms/\n  packages: [tinytorch:release-2.11]\n")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    out = cli("check", "s.yaml", *args, cwd=tmp_path)
    assert out.code == 2 and words in out.stderr
    assert not (tmp_path / "s.lock").exists()


def test_what_the_remote_answered_in_this_run_is_not_asked_again(tmp_path: Path) -> None:
    """The preflight reuses the lock's and the drift check's answers: a branch whose head is still the
    locked commit needs no remote; one that moved is fetched (here from a port nobody listens on)."""
    from streambuild.errors import SourceError
    from streambuild.lock import LockedComponent
    from streambuild.lock import containing_branches

    commit, other = "a" * 40, "b" * 40
    locked = LockedComponent("p", "dist-git", "git://127.0.0.1:1/p", "release-1", "refs/heads/release-1", commit)
    answered = {"refs/heads/release-1": commit, "refs/heads/release-1.1": commit, "refs/heads/main": other,
                "refs/tags/v1": commit}
    assert containing_branches(str(tmp_path), locked, answered) == ("release-1", "release-1.1")
    with pytest.raises(SourceError):
        containing_branches(str(tmp_path), locked, {"refs/heads/release-1": other})
    with pytest.raises(SourceError):  # nothing answered: the remote is asked
        containing_branches(str(tmp_path), locked)
