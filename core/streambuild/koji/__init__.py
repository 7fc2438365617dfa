"""Koji integration: chained scratch builds of a stream set inside an existing Koji.

The modules here are plain stream-build code; the only module that imports ``koji``
(and, inside a hub, ``kojihub``) is :mod:`streambuild._foreign.koji`.

- :mod:`.config`: koji-CLI-style profiles (``~/.koji/config``, ``/etc/koji.conf.d``).
- :mod:`.hubapi`: the hub side (policy data, idempotency, stream tags, the hub calls)
  as functions over an explicit :class:`~.hubapi.HubContext`; :mod:`.submission` (what
  a client submits, validated: lock schema, full commits, allowed SCM hosts) and
  :mod:`.settings` (the plugins' config file).
- :mod:`.policytests`: ``koji.policy`` tests carrying the stream rules into hub policies.
- :mod:`.builder`: the ``streamBuild`` task: scratch builds in DAG order, each result
  published into the stream's repository before its dependents start.
- :mod:`.client`: the ``koji`` build backend (hub plugin, or :mod:`.sidetag`: side tag
  and draft builds on hubs without it).
- :mod:`.commands`: ``stream-build koji watch|status|cancel|list``.

The thin files that Koji loads live outside the package: ``koji_hub_plugin/`` (hub and
builder plugins) and ``plugins/koji_cli_streambuild.py`` (koji CLI plugin).
"""

#: The XML-RPC namespace of the hub plugin (``streambuild.submit`` ...).
NAMESPACE = "streambuild"
#: The task method of the parent task the builder plugin runs.
TASK_METHOD = "streamBuild"
#: The policy the hub plugin asserts before accepting a stream.
POLICY_NAME = "stream_build"
