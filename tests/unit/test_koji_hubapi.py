"""The hub side: lock validation, submissions, idempotency, policy, status and cancel.

The hub calls run over :class:`streambuild._foreign.koji.KojihubContext` exactly as in a
hub, with the test hub's ``kojihub`` double (tests/kojihub) as the kojihub they import.
"""

from __future__ import annotations

import copy

import koji
import koji.policy
import pytest
from koji.context import context

from kojihub import state as hubstate
from kojihub.api import HubAPI
from kojihub.server import Handlers
from streambuild._foreign.koji import KojihubContext, fault_for
from streambuild.errors import InputError, NotLoggedIn, PolicyDenied
from streambuild.koji import hubapi, policytests

C1 = "a" * 40
C2 = "b" * 40
KEY = "0123456789abcdef" * 3

LOCK = {
    "version": 1,
    "base": "fedora-44-x86_64",
    "components": [
        {"name": "python3.11", "type": "dist-git", "url": "https://src.fedoraproject.org/rpms/python3.11.git",
         "ref": "release-3.11", "resolved": "refs/heads/release-3.11", "commit": C1},
        {"name": "vllm", "type": "git", "url": "https://github.com/vllm-project/vllm", "ref": "v0.20.0",
         "resolved": "refs/tags/v0.20.0", "commit": C2,
         "spec_source": {"url": "https://src.fedoraproject.org/rpms/vllm.git", "ref": "rawhide", "commit": C1}},
    ],
}
OPTS = {"version": 1, "idempotency_key": KEY, "stream": "vllm-stack", "scratch": True, "macros": {"_with_cuda": "0"},
        "install": ["vllm"], "components": {
            "python3.11": {"buildonly": False, "packages": ["python3.11", "python3.11-devel"], "after": []},
            "vllm": {"packages": ["vllm"], "after": ["python3.11"]}}}
SETTINGS = hubapi.HubSettings(allowed_scm_hosts=("src.fedoraproject.org", "github.com"), topurl="https://kojipkgs.test")


def lock(**changes):
    data = copy.deepcopy(LOCK)
    for index, fields in changes.items():
        data["components"][int(index[1:])].update(fields)
    return data


@pytest.mark.parametrize("changes, words", [
    ({"c0": {"commit": "abc1234"}}, "component python3.11: commit 'abc1234' is not a full commit id"),
    ({"c0": {"commit": "A" * 40}}, "component python3.11: commit"),
    ({"c1": {"url": "https://evil.example/vllm"}}, "component vllm: url: allowed-scm-host: https://evil.example/vllm"),
    ({"c0": {"url": "file:///srv/git/python3.11.git"}}, "allowed-scm-host"),
    ({"c0": {"url": "http://src.fedoraproject.org/rpms/python3.11.git"}}, "over https)"),  # https only by default
    ({"c0": {"url": "https://src.fedoraproject.org:8443/rpms/python3.11.git"}}, "(src.fedoraproject.org:8443;"),
    ({"c1": {"spec_source": {"url": "https://evil.example/vllm.git", "ref": "rawhide", "commit": C1}}},
     "component vllm: spec_source.url: allowed-scm-host"),
    ({"c0": {"ref": "--upload-pack=evil"}}, "component python3.11: ref"),
    ({"c0": {"surprise": 1}}, "lock.components[0]: unknown keys surprise"),
    ({"c1": {"type": "svn"}}, "component vllm: type must be"),
    ({"c1": {"name": "python3.11"}}, "listed twice"),
])
def test_lock_validation_names_the_component_and_the_rule(changes, words):
    with pytest.raises((InputError, PolicyDenied)) as info:
        hubapi.parse_lock(lock(**changes), SETTINGS)
    assert words in str(info.value)


def test_lock_shape_and_size():
    with pytest.raises(InputError, match="lock must be a struct"):
        hubapi.parse_lock([], SETTINGS)
    with pytest.raises(InputError, match="version 1"):
        hubapi.parse_lock({**LOCK, "version": 2}, SETTINGS)
    with pytest.raises(InputError, match="at most 1"):
        hubapi.parse_lock(LOCK, hubapi.HubSettings(allowed_scm_hosts=("*",), max_components=1))
    assert hubapi.parse_lock(LOCK, SETTINGS).component("vllm").spec_source.commit == C1


@pytest.mark.parametrize("change, words", [
    ({"idempotency_key": "short"}, "idempotency_key must be"),
    ({"scratch": False}, "scratch must be true"),
    ({"components": {"python3.11": {}}}, "missing vllm"),
    ({"components": {**OPTS["components"], "extra": {}}}, "not in the lock: extra"),
    ({"components": {"python3.11": {"after": ["vllm"]}, "vllm": {"after": ["python3.11"]}}}, "form a cycle"),
    ({"components": {"python3.11": {"after": ["nobody"]}, "vllm": {}}}, "not other components"),
    ({"components": {"python3.11": {"buildonly": "yes"}, "vllm": {}}}, "buildonly must be a boolean"),
    ({"macros": {"bad name": "1"}}, "opts.macros"),
    ({"stream": "-x"}, "opts.stream"),
    ({"unexpected": 1}, "unknown keys unexpected"),
])
def test_submission_options_are_checked(change, words):
    with pytest.raises(InputError) as info:
        hubapi.parse_submission(LOCK, {**OPTS, **change}, SETTINGS)
    assert words in str(info.value)


def test_submission_round_trip_and_names():
    sub = hubapi.parse_submission(LOCK, OPTS, SETTINGS)
    assert sub.dependencies == {"python3.11": (), "vllm": ("python3.11",)}
    again = hubapi.parse_submission(sub.lock.to_json(), sub.options(), SETTINGS)
    assert again == sub
    assert hubapi.stream_tag_name("f44-build", "vllm-stack", KEY) == f"f44-build-stream-vllm-stack-{KEY[:12]}"
    assert hubapi.stream_tag_name("f44-build", "vllm-stack", "f" * 48) != hubapi.stream_tag_name("f44-build", "vllm-stack", KEY)
    assert hubapi.scm_url("git://h/rpms/a.git", C1) == f"git://h/rpms/a.git#{C1}"
    assert hubapi.scm_url("https://h/rpms/a.git", C1) == f"git+https://h/rpms/a.git#{C1}"
    assert hubapi.repo_url("https://t/", 12345) == "https://t/work/tasks/2345/12345/repo/"
    comp = sub.component("vllm").manifest_component()
    assert (comp.repo_url, comp.distgit_repo_url, comp.distgit_ref) == (
        "https://github.com/vllm-project/vllm", "https://src.fedoraproject.org/rpms/vllm.git", "rawhide")


def test_settings_file(tmp_path):
    conf = tmp_path / "streambuild.conf"
    conf.write_text("[general]\nallowed_scm_hosts = 127.0.0.1:* src.fedoraproject.org\nallowed_schemes = git https\n"
                    "topurl = http://t/kojifiles/\n"
                    "[policy]\nacl = file:/x\napproved_macros = _with_a, _with_b\n[builder]\nverify_commits = no\n")
    settings = hubapi.load_settings(str(conf))
    assert settings.scm_host_allowed("git://127.0.0.1:9418/rpms/a.git")
    assert settings.scm_host_allowed("git://127.0.0.1:29418/rpms/a.git")  # host:* allows any port
    assert not settings.scm_host_allowed("git://127.0.0.2/rpms/a.git")
    assert settings.scm_host_allowed("https://src.fedoraproject.org/rpms/a.git")
    assert settings.scm_host_allowed("https://src.fedoraproject.org:443/rpms/a.git")  # the default port, spelled out
    assert not settings.scm_host_allowed("https://src.fedoraproject.org:8443/rpms/a.git")  # a bare host: default port
    assert not settings.scm_host_allowed("http://src.fedoraproject.org/rpms/a.git")  # scheme not allowed
    assert settings.approved_macros == {"_with_a", "_with_b"} and not settings.verify_commits
    assert settings.topurl == "http://t/kojifiles"
    conf.write_text("[policy]\nacl = ldap:x\n")
    with pytest.raises(InputError, match=r"\[policy\] acl"):
        hubapi.load_settings(str(conf))
    conf.write_text("[general]\ncolour = blue\n")
    with pytest.raises(InputError, match="unknown key 'colour'"):
        hubapi.load_settings(str(conf))
    assert hubapi.load_settings(str(tmp_path / "missing.conf")).verify_commits


# -- the hub calls, over KojihubContext and the test hub's kojihub -------------------------


def configure(tmp_path, monkeypatch, approved=""):
    """The plugin config file, as a hub reads it (policy tests read it too)."""
    conf = tmp_path / "streambuild.conf"
    conf.write_text(f"[general]\nallowed_scm_hosts = *\ntopurl = https://t\n[policy]\napproved_macros = {approved}\n")
    monkeypatch.setenv(hubapi.CONFIG_ENV, str(conf))
    return hubapi.load_settings()


@pytest.fixture
def hub(tmp_path):
    state = hubstate.Hub(str(tmp_path))
    hubstate.set_current(state)
    state.alice = state.add_user("alice", "pw")
    state.bob = state.add_user("bob", "pw")
    state.admin = state.add_user("boss", "pw", perms=["admin"])
    state.create_tag("f44-build", arches="x86_64", extra={"rpm.macro.dist": ".fc44"})
    state.create_tag("f44")
    state.create_target("f44", "f44-build", "f44")
    rules = "stream_build =\n    stream_macros_approved !! deny unapproved macros\n    all :: allow\n"
    tests = koji.policy.findSimpleTests([vars(koji.policy), vars(policytests)])
    state.policies = {"stream_build": koji.policy.SimpleRuleSet(rules.splitlines()[1:], tests)}
    yield state
    context._threadclear()
    hubstate.set_current(None)


def as_user(state, uid):
    """As the hub runs a plugin call: the caller's session and the hub's handlers in koji's context."""
    context.session = hubstate.Session(state, user_id=uid)
    context.handlers = Handlers(HubAPI(state).methods())
    return KojihubContext()


def test_submit_is_idempotent_and_creates_tag_target_and_external_repo(hub, tmp_path, monkeypatch):
    ctx = as_user(hub, hub.alice)
    settings = configure(tmp_path, monkeypatch, "_with_cuda")
    first = hubapi.submit(ctx, settings, LOCK, "f44", OPTS)
    again = hubapi.submit(ctx, settings, LOCK, "f44", OPTS)
    assert first == again
    assert hub.tasks_made == {"streamBuild": 1}
    tag = hub.get_tag(hubapi.stream_tag_name("f44-build", "vllm-stack", KEY))
    assert tag["extra"]["streambuild.task_id"] == first and tag["extra"]["rpm.macro._with_cuda"] == "0"
    assert hub.tags[tag["id"]]["parent"] == hub.get_tag("f44-build")["id"] and tag["arches"] == "x86_64"
    target = hub.get_build_target(tag["name"])
    assert target["build_tag"] == target["dest_tag"] == tag["id"]
    (entry,) = hub.tag_external
    assert entry["tag_id"] == tag["id"]
    assert hub.external_repos[entry["external_repo_id"]]["url"] == hubapi.repo_url("https://t", first)
    request = hub.tasks[first]["request"][0]
    assert request["target"] == tag["name"] and request["parent_target"] == "f44"
    assert hubapi.parse_submission(request["lock"], request["opts"], settings).key == KEY
    assert hub.tasks[first]["owner"] == hub.alice


def test_same_key_from_another_user_is_refused(hub, tmp_path, monkeypatch):
    settings = configure(tmp_path, monkeypatch, "_with_cuda")
    hubapi.submit(as_user(hub, hub.alice), settings, LOCK, "f44", OPTS)
    with pytest.raises(PolicyDenied, match="belongs to another user"):
        hubapi.submit(as_user(hub, hub.bob), settings, LOCK, "f44", OPTS)
    assert hub.tasks_made == {"streamBuild": 1}


def test_policy_denial_names_component_and_rule_and_creates_nothing(hub, tmp_path, monkeypatch):
    settings = configure(tmp_path, monkeypatch)
    with pytest.raises(PolicyDenied) as info:
        hubapi.submit(as_user(hub, hub.alice), settings, LOCK, "f44", OPTS)
    text = str(info.value)
    assert "policy violation (stream_build): unapproved macros" in text
    assert "*: macros-approval: overriding macro _with_cuda is not approved" in text
    assert isinstance(fault_for(info.value), koji.ActionNotAllowed)
    assert hub.tasks == {} and len(hub.tags) == 2 and hub.tag_external == []


def test_missing_target_and_anonymous_submit(hub):
    settings = hubapi.HubSettings(allowed_scm_hosts=("*",))
    with pytest.raises(InputError, match="no such build target: f99"):
        hubapi.submit(as_user(hub, hub.alice), settings, LOCK, "f99", OPTS)
    with pytest.raises(NotLoggedIn):
        hubapi.submit(as_user(hub, None), settings, LOCK, "f44", OPTS)
    assert isinstance(fault_for(NotLoggedIn("x")), koji.AuthError)
    assert isinstance(fault_for(InputError("x")), koji.ParameterError)


def test_status_list_and_cancel_by_owner_stranger_and_admin(hub, tmp_path, monkeypatch):
    settings = configure(tmp_path, monkeypatch, "_with_cuda")
    task = hubapi.submit(as_user(hub, hub.alice), settings, LOCK, "f44", OPTS)
    status = hubapi.status(as_user(hub, hub.bob), task)
    assert status["state"] == "FREE" and [c["state"] for c in status["components"]] == ["waiting", "waiting"]
    assert [s["task_id"] for s in hubapi.list_streams(as_user(hub, hub.bob), "alice", ["FREE", "OPEN"])] == [task]
    assert hubapi.list_streams(as_user(hub, hub.bob), "alice", "CLOSED") == []
    with pytest.raises(InputError, match="unknown task state"):
        hubapi.list_streams(as_user(hub, hub.bob), None, "DONE")
    with pytest.raises(PolicyDenied, match="bob is neither its owner nor an admin"):
        hubapi.cancel(as_user(hub, hub.bob), task)
    assert hub.tasks[task]["state"] == koji.TASK_STATES["FREE"]
    assert hubapi.cancel(as_user(hub, hub.admin), task)["state"] == "CANCELED"
    with pytest.raises(InputError, match="no such task"):
        hubapi.status(as_user(hub, hub.alice), 999)


# -- hardening: every malformed value is a ParameterError naming the field --------------------


@pytest.mark.parametrize("changes, words", [
    ({"c0": {"url": "https://user:secret@src.fedoraproject.org/rpms/python3.11.git"}},
     "component python3.11: url 'https://***@src.fedoraproject.org/rpms/python3.11.git' carries user information"),
    ({"c0": {"url": "https://ghp_token@src.fedoraproject.org/rpms/python3.11.git"}}, "carries user information"),
    ({"c0": {"url": "https://src.fedoraproject.org:99999/rpms/python3.11.git"}},
     "component python3.11: url 'https://src.fedoraproject.org:99999/rpms/python3.11.git' is not a valid URL"),
    ({"c0": {"url": "https://[::1/rpms/python3.11.git"}}, "component python3.11: url 'https://[::1/rpms/python3.11.git' is not a valid URL"),
    ({"c0": {"url": "https://ｓrc.fedoraproject.org/rpms/python3.11.git"}},
     "component python3.11: url 'https://ｓrc.fedoraproject.org/rpms/python3.11.git' has characters other than printable ASCII"),
    ({"c0": {"url": ["https://src.fedoraproject.org/rpms/python3.11.git"]}}, "lock.components[0]: needs string fields"),
    ({"c1": {"spec_source": {"url": "https://a:b@src.fedoraproject.org/rpms/vllm.git", "ref": "rawhide", "commit": C1}}},
     "component vllm: spec_source.url"),
])
def test_malformed_urls_are_parameter_errors_naming_the_field(changes, words):
    with pytest.raises(InputError) as info:
        hubapi.parse_lock(lock(**changes), SETTINGS)
    assert words in str(info.value)
    assert isinstance(fault_for(info.value), koji.ParameterError)


@pytest.mark.parametrize("component, words", [
    ({"after": [["python3.11"]]}, "component vllm: after must be a string, not list"),
    ({"after": "python3.11"}, "component vllm: after must be an array"),
    ({"packages": [7]}, "component vllm: packages must be a string, not int"),
    ({"lookaside": "https://evil.example/repo/pkgs/"}, "component vllm: lookaside: allowed-scm-host"),
    ({"lookaside": "http://src.fedoraproject.org/repo/pkgs/"}, "component vllm: lookaside: allowed-scm-host"),
    ({"lookaside": "https://me:pw@src.fedoraproject.org/repo/pkgs/"}, "component vllm: lookaside 'https://***@"),
    ({"lookaside": "https://src.fedoraproject.org:99999/repo/pkgs/"}, "component vllm: lookaside 'https://src.fedoraproject.org:99999"),
    ({"macros": {"_x": ["list"]}}, "component vllm: macros: '_x' must name a macro and have a string value"),
    ({"duration": "long"}, "component vllm: duration must be a number of seconds"),
    ({"duration": float("nan")}, "component vllm: duration must be a number of seconds"),
    ({"version": 3}, "component vllm: version 3 is not a valid rpm version"),
    ({"spec": ["a.spec"]}, "component vllm: spec must be a string"),
])
def test_malformed_component_options_are_parameter_errors_naming_the_field(component, words):
    opts = copy.deepcopy(OPTS)
    opts["components"]["vllm"].update(component)
    with pytest.raises((InputError, PolicyDenied)) as info:
        hubapi.parse_submission(LOCK, opts, SETTINGS)
    assert words in str(info.value)
    assert isinstance(fault_for(info.value), (koji.ParameterError, koji.ActionNotAllowed))


def test_a_lookaside_on_an_allowed_host_and_durations_are_kept():
    opts = copy.deepcopy(OPTS)
    opts["components"]["vllm"].update(lookaside="https://src.fedoraproject.org/repo/pkgs", duration=312.5)
    sub = hubapi.parse_submission(LOCK, opts, SETTINGS)
    assert sub.component("vllm").lookaside == "https://src.fedoraproject.org/repo/pkgs/"
    assert sub.component("vllm").duration == 312.5
    assert hubapi.parse_submission(sub.lock.to_json(), sub.options(), SETTINGS) == sub


@pytest.mark.parametrize("opts, words", [
    ({1: "x"}, "opts: unknown keys 1"),
    ({**OPTS, "components": {"python3.11": {}, 3: {}}}, "opts.components: keys must be component names"),
    ({**OPTS, "install": "vllm"}, "opts.install must be an array"),
    ({**OPTS, "macros": ["_x"]}, "opts.macros must be a struct"),
])
def test_malformed_opts_are_parameter_errors(opts, words):
    with pytest.raises(InputError) as info:
        hubapi.parse_submission(LOCK, opts, SETTINGS)
    assert words in str(info.value)


def test_merge_mode_follows_the_inherited_external_repos():
    sub = hubapi.parse_submission(LOCK, OPTS, SETTINGS)
    assert hubapi.merge_mode([], sub) == "bare"
    assert hubapi.merge_mode([{"merge_mode": "simple"}], sub) == "simple"
    assert hubapi.merge_mode([{"merge_mode": "koji"}], sub) == "koji"
    with pytest.raises(InputError, match="several merge modes"):
        hubapi.merge_mode([{"merge_mode": "koji"}, {"merge_mode": "bare"}], sub)
    opts = copy.deepcopy(OPTS)
    opts["components"]["vllm"]["replaces"] = True
    replacing = hubapi.parse_submission(LOCK, opts, SETTINGS)
    with pytest.raises(InputError, match="replaces: true cannot work for vllm"):
        hubapi.merge_mode([{"merge_mode": "koji"}], replacing)
