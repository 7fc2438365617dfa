"""``dnf stream-build``: the DNF4 command plugin (installed into DNF's plugin directory).

    dnf stream-build build|watch|install|plan|lock|status [MANIFEST] [PACKAGE ...] [options]

A thin front-end over :mod:`streambuild`, with DNF's conventions. DNF4 gives command
plugins no subparsers, so the subcommand is a positional argument with choices.

``install`` runs the transaction with DNF's own Base: DNF's ``--installroot``,
``--releasever``, ``-y``/``--assumeno`` and confirmation prompt, transaction table
and download progress. An ``--installroot`` gets its rpm database where the stream's
base keeps it (``/usr/lib/sysimage/rpm`` for Fedora 36 and later), as every other
install of stream-build does (:mod:`streambuild.rootdb`). (Without ``--releasever``,
DNF itself opens the root's database at the host rpm's default path to detect the
release before any plugin runs; on Debian that leaves an empty database there.) The stream repository (and the manifest's ``base_repos``)
are added with ``base.repos.add_new_repo``, and every requested package must come
from the stream: the same check (:func:`streambuild.frontend.check_provided`) that
``stream-build install`` makes. A manifest whose ``install:`` is a container is
built with the container target, as ``stream-build install`` does.

Errors are reported the DNF way: ``Error: …`` on stderr and exit status 1.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Iterator, Optional

import dnf
import dnf.cli
import dnf.exceptions

from streambuild import frontend, rootdb
from streambuild._foreign import rpmlib
from streambuild import journal as journal_mod
from streambuild import watch as watch_mod
from streambuild.errors import InputError, StreamBuildError
from streambuild.install import STREAM_REPO_ID
from streambuild.manifest import load_manifest
from streambuild.plugins import make_plugins
from streambuild.progress import Progress
from streambuild.stream import Stream, require_success
from streambuild.workdir import WorkDir

SUBCOMMANDS = ("build", "watch", "install", "plan", "lock", "status")


@contextlib.contextmanager
def _as_dnf_errors() -> Iterator[None]:
    """stream-build's errors become DNF's, which DNF prints as ``Error: …`` and exits 1."""
    try:
        yield
    except StreamBuildError as exc:
        raise dnf.exceptions.Error(f"stream-build: {exc}") from None


def _say(text: str) -> None:
    print(text, flush=True)


@dnf.plugin.register_command
class StreamBuildCommand(dnf.cli.Command):
    """``dnf stream-build SUBCOMMAND``: build, follow, install and inspect stream sets."""

    aliases = ("stream-build",)
    summary = "build stream sets of upstream release series in dependency order, and install them"

    @staticmethod
    def set_argparser(parser: Any) -> None:
        parser.add_argument("sb_subcommand", metavar="SUBCOMMAND", choices=SUBCOMMANDS,
                            help="one of: " + ", ".join(SUBCOMMANDS))
        parser.add_argument("sb_manifest", metavar="MANIFEST", nargs="?", default="stream-build.yaml",
                            help="the stream manifest (default: stream-build.yaml)")
        parser.add_argument("sb_packages", metavar="PACKAGE", nargs="*",
                            help="install: packages to install (default: the manifest's install.packages)")
        parser.add_argument("--workdir", dest="sb_workdir", metavar="DIR",
                            help="work directory (default: .stream-build beside the manifest)")
        parser.add_argument("--json", dest="sb_json", action="store_true", help="machine-readable output")
        parser.add_argument("--locked", dest="sb_locked", action="store_true",
                            help="use the lock file as it is; refuse to resolve refs")
        parser.add_argument("-j", "--jobs", dest="sb_jobs", type=int, default=2, metavar="N",
                            help="components built side by side (default: 2)")
        parser.add_argument("--backend", dest="sb_backend", default="auto", metavar="NAME",
                            help="build backend (default: auto, mock where installed, else local)")
        parser.add_argument("--keep-going", dest="sb_keep_going", action="store_true",
                            help="after a failure, build everything that does not depend on it")
        parser.add_argument("--resume", dest="sb_resume", action="store_true",
                            help="continue an interrupted run")
        parser.add_argument("--dot", dest="sb_dot", action="store_true", help="plan: print Graphviz DOT")
        parser.add_argument("--output", dest="sb_output", metavar="oci-archive:PATH",
                            help="install, container target: write the image to an archive")

    # -- DNF's phases -------------------------------------------------------------

    def pre_configure(self) -> None:
        self.stream: Optional[Stream] = None
        self.choice: Optional[frontend.InstallChoice] = None
        opts = self.opts
        if opts.sb_packages and opts.sb_subcommand != "install":
            raise dnf.exceptions.Error(
                f"stream-build {opts.sb_subcommand} takes one MANIFEST; only 'install' takes package names"
            )
        if opts.sb_jobs < 1:
            raise dnf.exceptions.Error("stream-build: --jobs must be at least 1")
        if opts.sb_subcommand != "install":
            return
        with _as_dnf_errors():
            manifest = load_manifest(opts.sb_manifest)
            # $releasever must be right before DNF reads repositories that use it
            self.base.conf.releasever = frontend.releasever_for(manifest, opts.releasever)

    def configure(self) -> None:
        if self.opts.sb_subcommand != "install":
            return
        with _as_dnf_errors():
            self._configure_install()

    def run(self) -> None:
        with _as_dnf_errors():
            getattr(self, "_run_" + self.opts.sb_subcommand)()

    def run_transaction(self) -> None:
        if self.stream is not None and self.choice is not None and self.choice.target != "container":
            installed = sorted(str(p) for p in self.base.transaction.install_set) if self.base.transaction else []
            self.stream.emit({"event": "installed", "target": "dnf", "installroot": self.base.conf.installroot,
                              "packages": installed})

    # -- install ------------------------------------------------------------------

    def _stream(self, progress: bool = False) -> Stream:
        extra = [Progress.for_terminal(self.opts.sb_json)] if progress else []
        return Stream(self.opts.sb_manifest, self.opts.sb_workdir, make_plugins(extra=extra), self.opts.sb_jobs)

    def _configure_install(self) -> None:
        opts, conf = self.opts, self.base.conf
        stream = self.stream = self._stream()
        spec = stream.manifest.install
        if spec is not None and spec.type == "container" and opts.installroot is None:
            self.choice = frontend.choose_install(stream.manifest, opts.sb_packages, None, "container", opts.sb_output)
            return  # built with buildah, not a DNF transaction: run() does it
        if opts.sb_output:
            raise InputError("--output only applies to a manifest whose install: is a container")
        if spec is not None and spec.type == "installroot" and spec.path and opts.installroot is None:
            root = os.path.join(stream.manifest.directory, spec.path)
            raise InputError(f"the manifest installs into {root}: run 'dnf --installroot={root} stream-build install'")
        self.choice = frontend.choose_install(stream.manifest, opts.sb_packages, None, "host", None)
        frontend.check_provided(stream.stream_repo, self.choice.packages)
        if os.path.abspath(conf.installroot) != "/":
            # a Fedora-shaped root: its own rpm database, else the base's path, whatever this
            # host's rpm default (Debian's is $HOME/.rpmdb); DNF has read rpm's configuration
            # by now, so the macro stays for its transaction
            rpmlib.define("_dbpath", rootdb.dbpath_for(conf.installroot, stream.manifest.base.rpmdb))

        demands = self.cli.demands
        demands.sack_activation = True
        demands.available_repos = True
        demands.resolving = True
        demands.root_user = True
        self.base.repos.add_new_repo(
            STREAM_REPO_ID, conf, baseurl=["file://" + os.path.abspath(stream.stream_repo)],
            gpgcheck=False, metadata_expire=0,
        )
        for index, url in enumerate(stream.manifest.base_repos):
            self.base.repos.add_new_repo(f"{STREAM_REPO_ID}-base-{index}", conf, baseurl=[url], metadata_expire=0)

    def _run_install(self) -> None:
        assert self.stream is not None and self.choice is not None
        if self.choice.target == "container":
            with self.stream.workdir:
                outcome = frontend.install(self.stream, self.choice)
            self._print_install(outcome)
            return
        for name in self.choice.packages:
            try:
                self.base.install(name, reponame=STREAM_REPO_ID)
            except dnf.exceptions.MarkingError as exc:
                raise dnf.exceptions.Error(f"stream-build: cannot install {name} from the stream: {exc}") from None

    def _print_install(self, outcome: frontend.InstallOutcome) -> None:
        if self.opts.sb_json:
            _say(json.dumps(outcome.to_json()))
        else:
            for line in outcome.lines():
                _say(line)

    # -- the other subcommands: the same calls as stream-build's -------------------

    def _run_build(self) -> None:
        stream = self._stream(progress=True)
        with stream.workdir:
            report, published = stream.build(self.opts.sb_backend, self._mode(), self.opts.sb_keep_going,
                                             self.opts.sb_resume)
        if self.opts.sb_json:
            _say(json.dumps(frontend.summary_json(report)))
        else:
            for line in frontend.summary_lines(report):
                _say(line)
        require_success(report)
        if published is not None and not self.opts.sb_json:
            _say(f"stream repository: {published.stream_repo}")

    def _run_plan(self) -> None:
        if self.opts.sb_json and self.opts.sb_dot:
            raise InputError("--json and --dot cannot be used together")
        stream = self._stream()
        with stream.workdir:
            planned = stream.plan(self._mode())
        if self.opts.sb_json:
            _say(json.dumps(planned.plan.to_json(), indent=2, sort_keys=True))
        elif self.opts.sb_dot:
            print(planned.plan.to_dot(), end="", flush=True)
        else:
            _say(planned.plan.describe())

    def _run_lock(self) -> None:
        stream = self._stream()
        with stream.workdir:
            result = stream.lock("update")
        if self.opts.sb_json:
            _say(json.dumps(result.to_json(), indent=2, sort_keys=True))
            return
        for comp in result.components:
            _say(f"{comp.name:30} {comp.ref:24} {comp.commit}")
        _say(f"wrote {stream.lock_path}")

    def _run_status(self) -> None:
        workdir = self._workdir()
        last = journal_mod.last_run(workdir.journal)
        if last is None:
            raise InputError(f"no run recorded in {workdir.journal}")
        state = "interrupted (continue with --resume)" if last.interrupted else f"finished: {last.ended.get('outcome')}"  # type: ignore[union-attr]
        if self.opts.sb_json:
            _say(json.dumps({"run": last.run, "state": state, "components": last.states}, indent=2, sort_keys=True))
            return
        _say(f"run {last.run}: {state}")
        for name, record in last.states.items():
            _say(f"  {name:30} {record.get('state')}")

    def _run_watch(self) -> None:
        watch_mod.print_run(self._workdir().root, self.opts.sb_json, _say)

    def _mode(self) -> str:
        return "locked" if self.opts.sb_locked else "auto"

    def _workdir(self) -> WorkDir:
        manifest = load_manifest(self.opts.sb_manifest)
        return WorkDir(self.opts.sb_workdir or os.path.join(manifest.directory, ".stream-build"))
