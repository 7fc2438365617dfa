"""Koji integration: chained scratch builds of a stream set inside an existing Koji.

The modules here are plain stream-build code; the only module that imports ``koji``
(and, inside a hub, ``kojihub``) is :mod:`streambuild._foreign.koji`.

- :mod:`.config`: koji profiles, read with koji's own ``read_config_files`` in its order.
- :mod:`.hubapi`: the hub side (policy data, idempotency, stream tags, the hub calls)
  as functions over an explicit :class:`~.hubapi.HubContext`; :mod:`.submission` (what
  a client submits, validated: lock schema, full commits, allowed SCM hosts) and
  :mod:`.settings` (the plugins' config file).
- :mod:`.policytests`: ``koji.policy`` tests carrying the stream rules into hub policies.
- :mod:`.builder`: the ``streamBuild`` task: scratch builds in DAG order, each result
  published into the stream's repository (:mod:`.repodata`: valid from the start,
  swapped atomically) before its dependents start; :mod:`.regen` decides when to ask
  Koji for a new repo of the stream tag (coalesced, at most the plan's depth + 1).
- :mod:`.client`: the ``koji`` build backend (hub plugin, or :mod:`.sidetag`: side tag
  and draft builds on hubs without it).
- :mod:`.commands`: ``stream-build koji watch|status|cancel|list``.
- :mod:`.durations`: expected build times for the plan (the hub's history, the local
  result store, a guess from the sources' size).

The thin files that Koji loads live outside the package: ``koji_hub_plugin/`` (hub and
builder plugins) and ``plugins/koji_cli_streambuild.py`` (koji CLI plugin).
"""

from typing import Any

from ..errors import EnvironmentProblem

#: The XML-RPC namespace of the hub plugin (``streambuild.submit`` ...).
NAMESPACE = "streambuild"
#: The task method of the parent task the builder plugin runs.
TASK_METHOD = "streamBuild"
#: The policy the hub plugin asserts before accepting a stream.
POLICY_NAME = "stream_build"

#: What a user without the koji client library is told (exit code 4).
INSTALL_HINT = "install stream-build[koji] (pip) or python3-koji (Fedora)"


def foreign() -> Any:
    """:mod:`streambuild._foreign.koji`; without the koji package an :class:`EnvironmentProblem` saying what to install."""
    try:
        from .._foreign import koji as module
    except ImportError as exc:
        raise EnvironmentProblem(f"the Koji client library cannot be imported ({exc}): {INSTALL_HINT}") from None
    return module
