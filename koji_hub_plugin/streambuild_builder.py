"""Koji builder (kojid) plugin: the ``streamBuild`` task of stream sets.

Install into kojid's plugin directory and enable with ``plugins = streambuild_builder`` in
kojid.conf; the builder reads ``/etc/kojid/plugins/streambuild.conf`` (``[builder]``:
``verify_commits``, ``repo_poll_interval``, ``git_cache``; ``[general]`` allowed SCM hosts).
A thin shim: the logic is :mod:`streambuild.koji.builder`; stream-build is imported when a
task runs, so a builder without it fails that task with a clear message instead of
failing to start.
"""

import os

import koji
import koji.tasks

CONFIG_FILE = "/etc/kojid/plugins/streambuild.conf"


class StreamBuildTask(koji.tasks.BaseTaskHandler):
    """Chained scratch builds of a stream set, in dependency order (see streambuild.koji.builder)."""

    Methods = ["streamBuild"]
    _taskWeight = 0.2  # it mostly waits for its subtasks

    def handler(self, request):
        try:
            from streambuild import errors
            from streambuild._foreign.koji import TaskHostAdapter, build_error
            from streambuild.koji import builder, hubapi
        except Exception as exc:  # noqa: BLE001
            raise koji.GenericError(f"stream-build is not importable on this builder: {exc}")
        try:
            settings = hubapi.load_settings(os.environ.get(hubapi.CONFIG_ENV) or CONFIG_FILE)
            options = builder.BuilderOptions.from_settings(settings)
            host = TaskHostAdapter(self)
            return builder.run_stream(request, host, os.path.join(self.workdir, "stream"), options)
        except errors.StreamBuildError as exc:
            raise build_error(str(exc)) from None
