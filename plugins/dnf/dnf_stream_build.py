"""``dnf stream-build``: the DNF4 command plugin (installed into DNF's plugin directory).

    dnf stream-build build|watch|install|plan|lock|status [ARGUMENTS ...]

A thin front-end over :mod:`streambuild`: the ARGUMENTS are parsed by ``stream-build``'s own
command of the same name, so ``dnf stream-build install -m stream-build.yaml hello`` means what
``stream-build install -m stream-build.yaml hello`` means (packages are positional, the manifest
is ``-m``, else ``stream-build.yaml`` here). DNF's own options keep DNF's meaning: ``-y``,
``--assumeno``, ``--installroot``, ``--releasever``, ``-v``, ``-q`` (passed on as ``-v``/``-q``).

``install`` runs the transaction with DNF's own Base: DNF's prompt, transaction table and
download progress. An ``--installroot`` gets its rpm database where the stream's base keeps
it (``/usr/lib/sysimage/rpm`` for Fedora 36 and later). (Without ``--releasever``, DNF itself
opens the root's database at the host rpm's default path to detect the release before any
plugin runs; on Debian that leaves an empty database there.) Every requested package must
come from the stream, and one installed at an older version is upgraded to the stream's,
as ``stream-build install`` does. A manifest whose ``install:`` is a container is built with
the container target.

Errors are reported the DNF way: ``Error: …`` on stderr and exit status 1 (usage errors:
click's message and exit 2, as DNF's own parser); with ``--json`` also a JSON object on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from typing import Iterator

import dnf
import dnf.cli
import dnf.exceptions

import streambuild
from streambuild import frontend, render

SUBCOMMANDS = ("build", "watch", "install", "plan", "lock", "status")


@contextlib.contextmanager
def _as_dnf_errors(json_output: bool = False) -> Iterator[None]:
    """stream-build's errors become DNF's, which DNF prints as ``Error: …`` and exits 1."""
    try:
        yield
    except streambuild.StreamBuildError as exc:
        if json_output:
            print(render.error_json(exc, exc.exit_code), flush=True)
        raise dnf.exceptions.Error(f"stream-build: {exc}") from None


@dnf.plugin.register_command
class StreamBuildCommand(dnf.cli.Command):
    """``dnf stream-build SUBCOMMAND``: build, follow, install and inspect stream sets."""

    aliases = ("stream-build",)
    summary = "build stream sets of upstream release series in dependency order, and install them"

    @staticmethod
    def set_argparser(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("sb_subcommand", metavar="SUBCOMMAND", choices=SUBCOMMANDS,
                            help="one of: " + ", ".join(SUBCOMMANDS))
        parser.add_argument("sb_args", metavar="ARGUMENTS", nargs=argparse.REMAINDER,
                            help="what 'stream-build SUBCOMMAND' takes (see 'stream-build SUBCOMMAND --help')")

    # -- DNF's phases -------------------------------------------------------------

    def pre_configure(self) -> None:
        opts = self.opts
        args = streambuild.host_args(streambuild.command_line, [opts.sb_subcommand, *opts.sb_args],
                                     verbose=bool(opts.verbose), quiet=bool(opts.quiet))
        self.call = streambuild.HostCall("dnf stream-build", streambuild.command_line, args, {"host": "dnf"})
        self.json = bool(self.call.params.get("json_output"))
        self.stream = self.choice = None
        if self.call.name == "install":
            with _as_dnf_errors(self.json):
                frontend.check_package_arguments(self.call.params["packages"])
                self.manifest = streambuild.load_manifest(streambuild.manifest_path(None, self.call.params["manifest_option"]))
                # $releasever must be right before DNF reads repositories that use it
                self.base.conf.releasever = frontend.releasever_for(self.manifest, opts.releasever)

    def configure(self) -> None:
        if self.call.name == "install":
            with _as_dnf_errors(self.json):
                self._configure_install()

    def run(self) -> None:
        with _as_dnf_errors(self.json):
            if self.call.name != "install":
                self.call.run()
            elif self.choice.target == "container":
                with self.stream.workdir:
                    outcome = frontend.install(self.stream, self.choice)
                for line in ([json.dumps(outcome.to_json())] if self.json else outcome.lines()):
                    print(line, flush=True)
            else:
                streambuild.dnf4.mark_install(self.base, self.choice.packages, streambuild.STREAM_REPO_ID)

    def run_transaction(self) -> None:
        if self.stream is not None and self.choice.target != "container":
            self.stream.emit({"event": "installed", "target": "dnf", "installroot": self.base.conf.installroot,
                              "packages": streambuild.dnf4.inbound(self.base)})

    # -- install ------------------------------------------------------------------

    def _configure_install(self) -> None:
        opts, conf, params = self.opts, self.base.conf, self.call.params
        stream = self.stream = streambuild.Stream(self.manifest.path, params["workdir"])
        spec = self.manifest.install
        target = params["install_target"] or ("container" if spec is not None and spec.type == "container" else None)
        if target == "container" and opts.installroot is None:
            self.choice = frontend.choose_install(self.manifest, params["packages"], None, "container", params["output"])
            return  # built with buildah, not a DNF transaction: run() does it
        if params["output"] or target not in (None, "host", "installroot"):
            raise streambuild.InputError("dnf stream-build install installs with DNF's transaction: --output and "
                                         "--install-target container need a manifest whose install: is a container")
        if spec is not None and spec.type == "installroot" and spec.path and opts.installroot is None:
            root = os.path.join(self.manifest.directory, spec.path)
            raise streambuild.InputError(f"the manifest installs into {root}: run 'dnf --installroot={root} "
                                         "stream-build install'")
        self.choice = frontend.choose_install(self.manifest, params["packages"], None, "host", None)
        frontend.check_provided(stream.stream_repo, self.choice.packages)
        if os.path.abspath(conf.installroot) != "/":
            streambuild.dnf4.use_root_database(conf.installroot, self.manifest.base.rpmdb)
        demands = self.cli.demands
        demands.sack_activation = demands.available_repos = demands.resolving = demands.root_user = True
        repos = {streambuild.STREAM_REPO_ID: "file://" + os.path.abspath(stream.stream_repo)}
        repos.update({f"{streambuild.STREAM_REPO_ID}-base-{i}": url for i, url in enumerate(self.manifest.base_repos)})
        streambuild.dnf4.add_repos(self.base, repos, streambuild.STREAM_REPO_ID)
