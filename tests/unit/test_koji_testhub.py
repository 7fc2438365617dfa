"""The test hub (tests/kojihub) behaves as Koji 1.35 where stream-build relies on it: repo requests,
kojira's retries, kojid's merge modes, package lists, default policies. A double that is wrong here
would let the suite pass where Koji fails."""

from __future__ import annotations

import koji
import koji.policy
import pytest
from koji.context import context

from kojihub import newrepo, repos
from kojihub import state as hubstate


@pytest.fixture
def hub(tmp_path):
    state = hubstate.Hub(str(tmp_path))
    hubstate.set_current(state)
    state.alice = state.add_user("alice", "pw")
    state.admin = state.add_user("boss", "pw", perms=["admin"])
    state.kojira = state.add_user("kojira", None, perms=["repo"])
    state.base = state.create_tag("f44", arches="x86_64")
    state.tag = state.create_tag("f44-build", parent="f44", arches="x86_64")
    tests = koji.policy.findSimpleTests([vars(koji.policy), hubstate.HUB_TESTS])
    state.policies = {f"__default__{n}": koji.policy.SimpleRuleSet(t.splitlines(), tests)
                      for n, t in hubstate.DEFAULT_POLICIES.items()}
    context.session = hubstate.Session(state, user_id=state.alice)
    yield state
    context._threadclear()
    hubstate.set_current(None)


def ready_repo(hub, tag_id):
    repo_id, _event = repos.repo_init(hub, tag_id, task_id=0)
    repos.repo_done(hub, repo_id)
    return repo_id


def test_repo_request_force_skips_only_the_existing_repo_check(hub):
    repo_id = ready_repo(hub, hub.tag)
    assert repos.request_repo(hub, hub.tag)["repo"]["id"] == repo_id  # a repo that will do
    first = repos.request_repo(hub, hub.tag, force=True)
    assert first["repo"] is None and not first["duplicate"]
    again = repos.request_repo(hub, hub.tag, force=True)  # still shares the active request, as kojihub
    assert again["duplicate"] and again["request"]["id"] == first["request"]["id"]
    later = repos.request_repo(hub, hub.tag, min_event=hub.new_event())  # a newer min_event: a new request
    assert not later["duplicate"] and later["request"]["id"] != first["request"]["id"]
    with pytest.raises(koji.ParameterError, match="Invalid event"):
        repos.request_repo(hub, hub.tag, min_event=10_000)


def test_kojira_retries_a_failing_newrepo_then_gives_up(hub):
    request = repos.request_repo(hub, hub.tag)["request"]
    made = []
    for _round in range(hub.options["RepoRetries"] + 2):
        for task_id in repos.check_queue(hub, hub.kojira):
            made.append(task_id)
            hub.tasks[task_id]["state"] = koji.TASK_STATES["OPEN"]
            hub.close_task(task_id, "FAILED", ("fault", (1, "failed to merge repos")))
    assert len(made) == hub.options["RepoRetries"] + 1  # the first try and RepoRetries more
    check = repos.check_request(hub, request["id"])
    assert check["repo"] is None and check["request"]["active"] is False  # a waiter's RepoWatcher gives up


def test_kojid_merges_one_merge_mode_only(tmp_path):
    external = [{"url": "http://a/$arch/", "merge_mode": "bare"}, {"url": "http://b/", "merge_mode": "koji"}]
    with pytest.raises(koji.GenericError, match="Found multiple merge modes"):
        newrepo.merge_command(external, "x86_64", "/l", "/o", "/b")
    cmd = newrepo.merge_command(external[:1], "x86_64", "/l", "/o", "/b")
    assert cmd[1:3] == ["--pkgorigins", "--all"] and "-b" not in cmd and cmd[-1] == "http://a/x86_64/"
    assert newrepo.merge_command(external[1:], "x86_64", "/l", "/o", "/b")[1:4] == ["--koji", "-b", "/b"]


def test_package_lists_are_inherited_and_defaults_apply(hub):
    hub.package_list_add(hub.base, "tinytorch", hub.alice)
    assert hub.package_config(hub.tag, "tinytorch")["tag_name"] == "f44"
    assert hub.package_config(hub.tag, "other") is None
    with pytest.raises(koji.GenericError, match="owner not specified"):
        hub.package_list_add(hub.tag, "other", None)
    data = {"user_id": hub.alice}
    assert hub.check_policy("build_from_srpm", data) == (False, "Only admin can do this via default policy")
    assert hub.check_policy("build_from_srpm", {"user_id": hub.admin})[0]
    assert hub.check_policy("build_rpm", data)[0]
    assert hub.check_policy("no_such_policy", data) == (True, "missing policy")  # MissingPolicyOk
