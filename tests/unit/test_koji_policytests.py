"""The stream policy tests in koji's OWN policy engine (koji.policy.SimpleRuleSet).

Rules are written in hub.conf syntax and read as kojihub reads them (configparser, one
rule per line); the tests are found with ``koji.policy.findSimpleTests`` like any hub's.
"""

from __future__ import annotations

import configparser

import koji.policy
import pytest

from streambuild.koji import hubapi, policytests

C = "c" * 40

HUB_CONF = """
[policy]
stream_build =
    stream_commit_rights !! deny the submitter lacks commit rights on a component
    stream_branch !! deny a component is not on a release-series branch
    stream_buildonly_flagged !! deny a build-only component would be installed
    stream_collisions_declared !! deny undeclared binary package collisions
    stream_macros_approved _with_bootstrap !! deny unapproved macro overrides
    all :: allow
globbed =
    stream_branch series-* :: allow
    all :: deny not a series branch
channel =
    is_stream_build :: use stream
    all :: use default
nested =
    is_stream_build :: {
        match target f44* :: allow
        all :: deny wrong target
    }
    all :: deny not a stream
"""


@pytest.fixture
def rules(tmp_path, monkeypatch):
    acl = tmp_path / "acl.txt"
    acl.write_text("# package, then who may commit\npython3.11 alice bob\nvllm alice carol\n")
    conf = tmp_path / "streambuild.conf"
    conf.write_text(f"[policy]\nacl = file:{acl}\napproved_macros = _with_cuda\n")
    monkeypatch.setenv(hubapi.CONFIG_ENV, str(conf))
    parser = configparser.RawConfigParser()
    parser.read_string(HUB_CONF)
    tests = koji.policy.findSimpleTests([vars(koji.policy), vars(policytests)])
    yield {name: koji.policy.SimpleRuleSet(parser.get("policy", name).splitlines(), tests)
           for name in parser.options("policy")}
    policytests.set_task_lookup(None)


def component(name, branch="release-3.11", kind="dist-git", **opts):
    url = f"https://src.fedoraproject.org/rpms/{name}.git" if kind == "dist-git" else f"https://github.com/x/{name}"
    locked = {"name": name, "type": kind, "url": url, "ref": branch, "resolved": f"refs/heads/{branch}", "commit": C}
    return locked, {"packages": [name], **opts}


def data(*comps, user="alice", macros=None, install=(), base=(), target="f44"):
    lock = {"version": 1, "base": "fedora-44-x86_64", "components": [c[0] for c in comps]}
    opts = {"idempotency_key": "e" * 40, "stream": "s", "macros": macros or {}, "install": list(install),
            "components": {c[0]["name"]: c[1] for c in comps}}
    sub = hubapi.parse_submission(lock, opts, hubapi.HubSettings(allowed_scm_hosts=("*",)))
    target_info = {"name": target, "build_tag_name": f"{target}-build"}
    return hubapi.policy_data(sub, {"id": 7, "name": user}, target_info, base)


def verdict(ruleset, policy_data):
    return ruleset.apply(policy_data)


def test_a_clean_stream_is_allowed(rules):
    assert verdict(rules["stream_build"], data(component("python3.11"), component("vllm", "v0.20", "git"))) == "allow"


@pytest.mark.parametrize("user, expected", [
    ("alice", "allow"),  # listed on both
    ("bob", "deny"),  # python3.11, but not vllm
    ("carol", "deny"),  # vllm only
])
def test_commit_rights(rules, user, expected):
    stream = data(component("python3.11"), component("vllm"), user=user)
    result = verdict(rules["stream_build"], stream)
    assert result.split()[0] == expected
    if expected == "deny":
        assert "lacks commit rights" in result


def test_commit_rights_on_part_of_the_set_and_unknown_package(rules):
    assert verdict(rules["stream_build"], data(component("python3.11"), user="bob")) == "allow"
    unknown = verdict(rules["stream_build"], data(component("not-in-acl"), user="alice"))
    assert unknown.startswith("deny") and "commit rights" in unknown  # "cannot tell" is not a permission


@pytest.mark.parametrize("branch, expected", [("release-3.11", "allow"), ("f44", "deny"), ("rawhide", "deny"),
                                              ("my-feature", "deny")])
def test_release_series_branch(rules, branch, expected):
    result = verdict(rules["stream_build"], data(component("python3.11", branch)))
    assert result.split()[0] == expected
    if expected == "deny":
        assert "release-series branch" in result


def test_branch_globs_as_test_arguments(rules):
    assert verdict(rules["globbed"], data(component("python3.11", "series-7"))) == "allow"
    assert verdict(rules["globbed"], data(component("python3.11", "release-3.11"))) == "deny not a series branch"


def test_buildonly_components_must_not_be_installed(rules):
    tool = component("python3.11", buildonly=True)
    assert verdict(rules["stream_build"], data(tool, install=["vllm"])) == "allow"
    assert verdict(rules["stream_build"], data(tool, install=["python3.11"])).startswith("deny a build-only")


def test_collisions_with_the_base_must_be_declared(rules):
    assert verdict(rules["stream_build"], data(component("python3.11"), base=["python3.11"])).startswith(
        "deny undeclared binary package collisions")
    declared = component("python3.11", replaces=True)
    assert verdict(rules["stream_build"], data(declared, base=["python3.11"])) == "allow"
    twice = component("vllm", packages=["python3.11"])
    assert verdict(rules["stream_build"], data(component("python3.11"), twice)).startswith("deny undeclared")


@pytest.mark.parametrize("macros, expected", [({"_with_bootstrap": "1"}, "allow"), ({"_with_cuda": "1"}, "allow"),
                                              ({"_with_mkl": "1"}, "deny")])
def test_macros_need_approval_from_arguments_or_config(rules, macros, expected):
    assert verdict(rules["stream_build"], data(component("python3.11"), macros=macros)).split()[0] == expected


def test_is_stream_build_for_submissions_and_for_tasks_under_a_stream_task(rules):
    tasks = {10: {"method": "streamBuild", "parent": None}, 11: {"method": "build", "parent": 10},
             20: {"method": "build", "parent": None}}
    policytests.set_task_lookup(tasks.get)
    assert verdict(rules["channel"], data(component("python3.11"))) == "use stream"
    assert verdict(rules["channel"], {"method": "streamBuild", "parent": None}) == "use stream"
    assert verdict(rules["channel"], {"method": "buildArch", "parent": 11}) == "use stream"
    assert verdict(rules["channel"], {"method": "build", "task_id": 11}) == "use stream"
    assert verdict(rules["channel"], {"method": "buildArch", "parent": 20}) == "use default"
    assert verdict(rules["channel"], {"method": "build"}) == "use default"


def test_nested_rules_and_stream_tests_on_other_policies_data(rules):
    assert verdict(rules["nested"], data(component("python3.11"))) == "allow"
    assert verdict(rules["nested"], data(component("python3.11"), target="eln")) == "deny wrong target"
    assert verdict(rules["nested"], {"user_id": 7}) == "deny not a stream"
    # a stream test cannot vouch for data that is not a stream's
    assert verdict(rules["stream_build"], {"user_id": 7}).startswith("deny")
