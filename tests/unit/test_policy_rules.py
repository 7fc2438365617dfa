"""Every built-in stream policy rule: the cases it denies, warns about and allows."""

from __future__ import annotations

from dataclasses import replace
from typing import List, Optional

import pytest

from streambuild.policy import rules
from streambuild.plugins import make_plugins
from streambuild.policy import (ALLOW, DEFAULT_SERIES_PATTERN, DENY, SET, WARN, Finding, PolicyComponent,
                                PolicyInput, denials, evaluate, summary)

C1 = "1" * 40
C2 = "2" * 40


def comp(name: str = "python3.11", ref: str = "release-3.11", source_type: str = "dist-git", **kw) -> PolicyComponent:
    resolved = kw.pop("resolved", f"refs/heads/{ref}")
    return PolicyComponent(name=name, source_type=source_type, url=f"https://src.example/rpms/{name}.git", ref=ref,
                           commit=kw.pop("commit", C1), resolved=resolved, **kw)


def data(*components: PolicyComponent, **kw) -> PolicyInput:
    return PolicyInput(stream="s", base="fedora-44-x86_64", components=tuple(components), **kw)


def run(rule, policy_input: PolicyInput) -> List[Finding]:
    found = list(rule.check(policy_input))
    assert all(f.rule == rule.name and f.verdict in (DENY, WARN, ALLOW) for f in found)
    return found


def verdicts(found: List[Finding]) -> List[tuple]:
    return [(f.component, f.verdict) for f in found]


# -- commit-rights -------------------------------------------------------------------


def rights(table):
    def answer(user: str, component: PolicyComponent) -> Optional[bool]:
        return table.get((user, component.name))
    return answer


def test_commit_rights_deny_allow_and_cannot_tell():
    policy_input = data(comp("a"), comp("b"), comp("c"), comp("up", source_type="git"),
                        user="jdoe", commit_rights=rights({("jdoe", "a"): True, ("jdoe", "b"): False}))
    found = run(rules.CommitRightsRule(), policy_input)
    assert verdicts(found) == [("a", ALLOW), ("b", DENY), ("c", WARN)]  # upstream git components are not asked
    assert "jdoe has no commit rights on b" in found[1].reason and "commit access" in found[1].hint
    assert "cannot tell whether jdoe may commit" in found[2].reason


@pytest.mark.parametrize("user, source, missing", [(None, rights({}), "no user"), ("jdoe", None, "no ACL source")])
def test_commit_rights_unchecked_is_a_warning_naming_what_is_missing(user, source, missing):
    found = run(rules.CommitRightsRule(), data(comp("a"), user=user, commit_rights=source))
    assert verdicts(found) == [("a", WARN)] and missing in found[0].reason and "--acl-file" in found[0].hint


# -- reachable-commit ----------------------------------------------------------------


def test_reachable_commit():
    found = run(rules.ReachableCommitRule(), data(
        comp("on", branches=("release-3.11", "rawhide")), comp("gone", branches=()), comp("unknown")))
    assert verdicts(found) == [("on", ALLOW), ("gone", DENY), ("unknown", WARN)]
    assert "on release-3.11, rawhide" in found[0].reason
    assert f"commit {C1} is on no branch" in found[1].reason and "force-push" in found[1].hint


# -- release-series-branch -----------------------------------------------------------


@pytest.mark.parametrize("branch, verdict, words", [
    ("release-3.11", ALLOW, "is a release-series branch"),
    ("release-2", ALLOW, "is a release-series branch"),
    ("f44", DENY, "is a Fedora release branch"),
    ("rawhide", DENY, "is a Fedora release branch"),
    ("main", DENY, "is a Fedora release branch"),
    ("epel10", DENY, "is a Fedora release branch"),
    ("feature-x", DENY, "not a release-series name"),
    ("release-3.11-hotfix", DENY, "not a release-series name"),
])
def test_release_series_branch_names(branch, verdict, words):
    found = run(rules.ReleaseSeriesBranchRule(), data(comp("p", ref=branch)))
    assert verdicts(found) == [("p", verdict)] and words in found[0].reason
    if verdict == DENY:
        assert "stream-build branch request" in found[0].hint


def test_release_series_pattern_is_anchored_as_a_whole():
    # an alternation must not let 'anything|release-x' match a prefix only
    found = run(rules.ReleaseSeriesBranchRule(),
                data(comp("p", ref="stable-1.0-extra"), series_pattern=r"stable-[0-9.]+|lts"))
    assert verdicts(found) == [("p", DENY)]
    found = run(rules.ReleaseSeriesBranchRule(), data(comp("p", ref="lts"), series_pattern=r"stable-[0-9.]+|lts"))
    assert verdicts(found) == [("p", ALLOW)]


def test_release_series_tags_and_commits_are_judged_by_their_branches():
    tag = dict(ref="v3.11.9", resolved="refs/tags/v3.11.9")
    found = run(rules.ReleaseSeriesBranchRule(), data(
        comp("a", branches=("rawhide", "release-3.11"), **tag),
        comp("b", branches=("rawhide",), **tag),
        comp("c", **tag),
        comp("up", source_type="git", ref="main"),  # upstream components follow upstream's names
    ))
    assert verdicts(found) == [("a", ALLOW), ("b", DENY), ("c", WARN)]
    assert "release-3.11" in found[0].reason and "no release-series branch" in found[1].reason


# -- buildonly -----------------------------------------------------------------------


def test_buildonly_packages_must_not_be_installed():
    bootstrap = comp("bootstrap", buildonly=True, packages=("bootstrap", "bootstrap-tools"))
    app = comp("app", packages=("app",))
    found = run(rules.BuildonlyRule(), data(bootstrap, app, install_packages=("app", "bootstrap-tools")))
    assert verdicts(found) == [("bootstrap", DENY)]
    assert "install names bootstrap-tools" in found[0].reason and "buildonly" in found[0].hint
    found = run(rules.BuildonlyRule(), data(bootstrap, app, install_packages=("app",)))
    assert verdicts(found) == [("bootstrap", ALLOW)]
    assert verdicts(run(rules.BuildonlyRule(), data(app, install_packages=("app",)))) == [(SET, ALLOW)]


# -- unique-binary-names -------------------------------------------------------------


def test_unique_binary_names():
    a = comp("a", packages=("a", "shared-tools"))
    b = comp("b", packages=("b", "shared-tools"))
    found = run(rules.UniqueBinaryNamesRule(), data(a, b))
    assert verdicts(found) == [("a", DENY), ("b", DENY)]
    assert "shared-tools is also built by b" in found[0].reason
    assert verdicts(run(rules.UniqueBinaryNamesRule(), data(a, comp("b", packages=("b",))))) == [(SET, ALLOW)]
    assert verdicts(run(rules.UniqueBinaryNamesRule(), data(comp("a"), comp("b")))) == [(SET, WARN)]


# -- base-collision ------------------------------------------------------------------


def test_base_collision():
    base = frozenset({"python3", "python3-libs"})
    same = comp("python3", packages=("python3", "python3-devel"))
    found = run(rules.BaseCollisionRule(), data(same, base_packages=base))
    assert verdicts(found) == [("python3", DENY)] and "ships python3, which the base ships" in found[0].reason
    found = run(rules.BaseCollisionRule(), data(replace(same, replaces=True), base_packages=base))
    assert verdicts(found) == [("python3", ALLOW)] and "declared" in found[0].reason
    found = run(rules.BaseCollisionRule(), data(comp("other", packages=("other",)), base_packages=base))
    assert verdicts(found) == [(SET, ALLOW)]
    found = run(rules.BaseCollisionRule(), data(comp("other", packages=("other",), replaces=True), base_packages=base))
    assert verdicts(found) == [("other", WARN), (SET, ALLOW)]
    found = run(rules.BaseCollisionRule(), data(same))
    assert verdicts(found) == [(SET, WARN)] and "base_repos" in found[0].hint


# -- macros-approval -----------------------------------------------------------------


def test_macros_approval():
    found = run(rules.MacrosApprovalRule(), data(
        comp("a", macros=(("_with_bootstrap", "1"), ("dist", ".x"))),
        macros=(("_without_tests", "1"),), approved_macros=frozenset({"_with_bootstrap"})))
    assert [(f.component, f.verdict, f.reason) for f in found] == [
        (SET, DENY, "overriding macro _without_tests is not approved"),
        ("a", ALLOW, "macro _with_bootstrap is approved"),
        ("a", DENY, "overriding macro dist is not approved"),
    ]
    assert verdicts(run(rules.MacrosApprovalRule(), data(comp("a")))) == [(SET, ALLOW)]


# -- series-audit --------------------------------------------------------------------


def test_series_audit_denies_a_build_against_the_base():
    found = "app was built against the base's tinylib-devel 1.0-1 for tinylib-devel; the stream has tinylib 2.0-1"
    denied = run(rules.SeriesAuditRule(), replace(data(comp("app")), audit=(("app", (found,)), ("tinylib", ()))))
    assert [(f.component, f.verdict, f.reason) for f in denied] == [("app", DENY, found)]
    clean = run(rules.SeriesAuditRule(), replace(data(comp("app")), audit=(("app", ()),)))
    assert verdicts(clean) == [(SET, ALLOW)]
    unknown = run(rules.SeriesAuditRule(), data(comp("app")))
    assert verdicts(unknown) == [(SET, ALLOW)] and "has not been built here" in unknown[0].reason


# -- the set of rules ----------------------------------------------------------------


def test_builtin_rules_are_registered_as_a_plugin_in_order():
    plugins = make_plugins(load_entry_points=False)
    names = [r.name for r in plugins.registry.policy_rules]
    assert names == [r.name for r in rules.BUILTIN_RULES] == [
        "commit-rights", "reachable-commit", "release-series-branch", "buildonly", "unique-binary-names",
        "base-collision", "macros-approval", "series-audit"]
    assert all(r.description for r in plugins.registry.policy_rules)


def test_evaluate_and_summary_name_every_denial():
    policy_input = data(comp("a", ref="f44", branches=()), series_pattern=DEFAULT_SERIES_PATTERN)
    found = evaluate(policy_input, rules.BUILTIN_RULES)
    denied = denials(found)
    assert {f.rule for f in denied} == {"reachable-commit", "release-series-branch"}
    assert "a: release-series-branch: branch f44 is a Fedora release branch" in summary(found)
    assert all(set(f.to_json()) == {"component", "rule", "verdict", "reason", "hint"} for f in found)
