"""Koji hub plugin: chained scratch builds of stream sets (``streambuild.submit/status/list/cancel/publish``).

Install into the hub's PluginPath and enable with ``Plugins = streambuild_hub`` in
hub.conf. Configuration: ``/etc/koji-hub/plugins/streambuild.conf`` (read on each call).
The policy tests it carries (``is_stream_build``, ``stream_commit_rights``, ``stream_branch``,
``stream_buildonly_flagged``, ``stream_collisions_declared``, ``stream_macros_approved``)
can be used in any hub policy; ``submit`` asserts the ``stream_build`` policy.

A thin shim: the logic is :mod:`streambuild.koji.hubapi`. It never raises at import time
(an exception while loading a plugin takes the whole hub offline): if kojihub or
stream-build cannot be imported, every call fails with a PluginError saying why.
"""

import logging

import koji
from koji.plugin import export_in

logger = logging.getLogger("koji.plugin.streambuild")

try:
    from streambuild import errors as _errors
    from streambuild._foreign.koji import KojihubContext, fault_for, hub_task_info, kojihub_problem
    from streambuild.koji import hubapi, policytests
    from streambuild.koji.policytests import (  # noqa: F401 - found by koji.policy.findSimpleTests
        IsStreamBuildTest,
        StreamBranchTest,
        StreamBuildonlyFlaggedTest,
        StreamCollisionsDeclaredTest,
        StreamCommitRightsTest,
        StreamMacrosApprovedTest,
    )
    _SB_ERROR = None
    _HUB_ERROR = kojihub_problem()
except Exception as exc:  # noqa: BLE001
    hubapi = None
    _SB_ERROR = f"stream-build is not importable: {exc}"
    _HUB_ERROR = None


def _call(func, *args):
    problem = _HUB_ERROR or _SB_ERROR
    if problem:
        raise koji.PluginError(f"streambuild plugin unavailable: {problem}")
    try:
        settings = hubapi.load_settings()  # $STREAMBUILD_HUB_CONFIG, else /etc/koji-hub/plugins/streambuild.conf
        policytests.set_task_lookup(hub_task_info)
        ctx = KojihubContext(settings.topurl)
        return func(ctx, settings, *args) if func is hubapi.submit else func(ctx, *args)
    except _errors.StreamBuildError as exc:
        raise fault_for(exc) from None


@export_in("streambuild")
def submit(lock, target, opts=None):
    """Submit a stream set: its lock (every component at a full commit), a build target and options.

    opts: idempotency_key (a retried submit with the same key returns the same task),
    stream, components (per component: buildonly, replaces, packages, after, ...), macros.
    Returns the id of the ``streamBuild`` task.
    """
    return _call(hubapi.submit, lock, target, opts or {})


@export_in("streambuild")
def status(task_id):
    """The stream task's state and every component's state, subtask, NVR and RPMs."""
    return _call(hubapi.status, task_id)


@export_in("streambuild", alias="list")
def list_streams(user=None, state=None):
    """Stream tasks, optionally of one user (name or id) and in some states (FREE, OPEN, CLOSED...)."""
    return _call(hubapi.list_streams, user, state)


@export_in("streambuild")
def cancel(task_id):
    """Cancel a stream task and its builds (its owner or an admin)."""
    return _call(hubapi.cancel, task_id)


@export_in("streambuild")
def publish(task_id, staged):
    """[builder] The host running a stream task swaps in its stream repository's new index.

    staged: the name of the index it uploaded to repo/staged/ (repomd-<n>.xml), whose data
    files it uploaded to repo/repodata/ before. Returns the index's timestamp and the stream
    tag's change event this made.
    """
    return _call(hubapi.publish, task_id, staged)
