"""Policy tests for Koji hub policies, carrying the stream rules (DESIGN.md §5) into hub.conf.

Each class is a ``koji.policy`` test; the hub finds them in the hub plugin's namespace
(``koji.policy.findSimpleTests``) and any policy section can use them. The stream tests
read the submission from ``stream_build`` policy data (:func:`streambuild.koji.hubapi.policy_data`)
and delegate to the core rules in :mod:`streambuild.policy.rules`; they are true when the rule
denies nothing::

    [policy]
    stream_build =
        stream_commit_rights !! deny the submitter lacks commit rights on a component
        stream_branch !! deny a component is not on a release-series branch
        stream_buildonly_flagged !! deny a build-only component would be installed
        stream_collisions_declared !! deny undeclared binary package collisions
        stream_macros_approved _with_bootstrap !! deny unapproved macro overrides
        all :: allow
    channel =
        is_stream_build :: use stream
        all :: use default

``stream_branch`` takes optional glob patterns (``stream_branch release-* series-*``)
instead of the configured ``series_pattern``; ``stream_macros_approved`` takes macro
names approved in addition to the configured ``approved_macros``. ``stream_commit_rights``
uses the configured ACL source (``[policy] acl``, read by :func:`streambuild.policy.acl.from_spec`).

``is_stream_build`` is true for ``stream_build`` data and for data of any task that is,
or descends from, a ``streamBuild`` task (``channel``/``priority`` data carry ``method``
and ``parent``, ``build_rpm``/``build_from_scm`` data carry ``task_id``).
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable, Iterable, Mapping, Optional

from .. import policy as policy_mod
from ..policy import rules
from .._foreign.koji import BaseSimpleTest, MatchTest
from . import TASK_METHOD, hubapi
from ..policy.acl import from_spec

#: How a test finds a task by id (``{'method', 'parent'}``); the hub plugin installs kojihub's.
TaskLookup = Callable[[int], Optional[Mapping[str, Any]]]
_task_lookup: Optional[TaskLookup] = None


def set_task_lookup(lookup: Optional[TaskLookup]) -> None:
    """Let ``is_stream_build`` follow task parents (the hub plugin passes kojihub's task info)."""
    global _task_lookup
    _task_lookup = lookup


def _settings() -> hubapi.HubSettings:
    return hubapi.load_settings()


def _denies(data: Mapping[str, Any], rule: Any, **overrides: Any) -> bool:
    """Whether ``rule`` denies anything in a stream_build policy's data (False for other data)."""
    submission = hubapi.submission_from_policy_data(data)
    if submission is None:
        return True  # not a stream: a stream test cannot vouch for it
    settings = _settings()
    needs_acl = isinstance(rule, rules.CommitRightsRule)
    data_in = submission.policy_input(
        data.get("user"), frozenset(data.get("base_packages") or ()), settings,
        from_spec(settings.acl) if needs_acl else None,
    )
    if overrides:
        data_in = policy_mod.PolicyInput(**{**data_in.__dict__, **overrides})
    findings = list(rule.check(data_in))
    if needs_acl:
        # "cannot tell" is not a permission: only explicit commit rights count
        return any(f.verdict != policy_mod.ALLOW for f in findings)
    return any(f.verdict == policy_mod.DENY for f in findings)


def _args(test: BaseSimpleTest) -> Iterable[str]:
    return str(test).split()[1:]


class IsStreamBuildTest(BaseSimpleTest):
    """True for a stream's submission and for tasks under a ``streamBuild`` task."""

    name = "is_stream_build"

    def run(self, data: Mapping[str, Any]) -> bool:
        if data.get("stream_submission") is not None or data.get("method") == TASK_METHOD:
            return True
        task_id = data.get("parent") or data.get("task_id")
        seen = set()
        while isinstance(task_id, int) and task_id not in seen and _task_lookup is not None:
            seen.add(task_id)
            info = _task_lookup(task_id)
            if not info:
                return False
            if info.get("method") == TASK_METHOD:
                return True
            task_id = info.get("parent")
        return False


class StreamCommitRightsTest(BaseSimpleTest):
    """The submitter has commit rights on every dist-git component (provenpackager is not enough)."""

    name = "stream_commit_rights"

    def run(self, data: Mapping[str, Any]) -> bool:
        return not _denies(data, rules.CommitRightsRule())


class StreamBranchTest(MatchTest):
    """Every dist-git component is on a release-series branch (``stream_branch [glob ...]``)."""

    name = "stream_branch"

    def run(self, data: Mapping[str, Any]) -> bool:
        globs = list(_args(self))
        overrides = {}
        if globs:
            overrides["series_pattern"] = "(" + "|".join(fnmatch.translate(g)[4:-3] for g in globs) + ")"
        return not _denies(data, rules.ReleaseSeriesBranchRule(), **overrides)


class StreamBuildonlyFlaggedTest(BaseSimpleTest):
    """Nothing the stream installs comes from a component flagged ``buildonly``."""

    name = "stream_buildonly_flagged"

    def run(self, data: Mapping[str, Any]) -> bool:
        return not _denies(data, rules.BuildonlyRule())


class StreamCollisionsDeclaredTest(BaseSimpleTest):
    """No two components ship a binary of the same name; base collisions say ``replaces: true``."""

    name = "stream_collisions_declared"

    def run(self, data: Mapping[str, Any]) -> bool:
        return not (_denies(data, rules.UniqueBinaryNamesRule()) or _denies(data, rules.BaseCollisionRule()))


class StreamMacrosApprovedTest(BaseSimpleTest):
    """Every overridden macro is approved (``stream_macros_approved [name ...]`` adds approvals)."""

    name = "stream_macros_approved"

    def run(self, data: Mapping[str, Any]) -> bool:
        approved = _settings().approved_macros | frozenset(_args(self))
        return not _denies(data, rules.MacrosApprovalRule(), approved_macros=approved)


#: The tests, for ``koji.policy.findSimpleTests`` and for the hub plugin's namespace.
POLICY_TESTS = (
    IsStreamBuildTest,
    StreamCommitRightsTest,
    StreamBranchTest,
    StreamBuildonlyFlaggedTest,
    StreamCollisionsDeclaredTest,
    StreamMacrosApprovedTest,
)
