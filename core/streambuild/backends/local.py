"""The ``local`` backend: rpmbuild in a build root of its own, over this host.

For each component:

1. its SRPM is made (``rpmbuild -bs``) in a sandbox, since parsing a spec runs its macros
   (when the analysis read the spec's BuildRequires exactly, the build starts from those
   instead, as ``rpmbuild -ba``, and stands only if the SRPM it makes requires exactly
   them; otherwise it is made again this way);
2. the SRPM's exact BuildRequires, and those its ``%generate_buildrequires`` adds (learned before
   the build, :attr:`BuildJob.generated_requires`), are resolved (:func:`streambuild.buildreqs.resolve`)
   against the stream RPMs of what it depends on and against the host: a stream RPM, an
   installed package of an RPM host, or, on a host whose packages are not RPMs (Debian),
   "assumed from the host", listed in the build log and the summary. Anything missing
   fails the build here, with rpm's words ("Failed build dependencies");
3. the stream RPMs it needs (and what they require from the stream) are installed with
   their files into a tree of its own (:mod:`streambuild.buildroot`), and, when they hold
   shared libraries, the dynamic linker's cache of the build root is made anew over the
   host's libraries and theirs (``ldconfig``, as glibc's trigger does in a real build root;
   the host's cache knows nothing of them, and Debian's loader does not search
   ``/usr/lib64``);
4. ``rpmbuild -bb`` runs in a sandbox (:mod:`streambuild.sandbox`) that lays that tree over
   the host's system directories, read-only: the build compiles against the stream's
   headers, links its libraries and imports its modules, and takes its compiler and
   everything else from the host. The sandbox has no network, no view of home
   directories or of other builds, a read-only root; only its own scratch directory
   (``_topdir``, ``/tmp``, ``/var/tmp``) is writable.

rpmbuild runs with ``--nodeps``: step 2 has checked the BuildRequires already, against
what the build root really holds. Nothing is written to the host's ``/`` or its rpm
database. A disk that fills up, or a sandbox the kernel refuses, is an environment
problem (exit 4), not a failed component.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
from typing import IO, List, Optional, Tuple

from .. import buildreqs, sandbox, tools
from .._foreign import rpmlib
from ..analyse import define_args
from ..buildroot import DBPATH, make_tree
from ..errors import DiskFull, EnvironmentProblem, InputError
from ..workdir import disk_full
from . import BuildJob, BuildOutcome, collect, log_tail, run_logged

#: Where, inside the scratch directory, each part of a build lives.
TOPDIR, TREE, MOUNTS, TMP, LDCACHE = "rpmbuild", "deps", "deps.mnt", "tmp", "ldcache"

_NO_SPACE = ("No space left on device", "Disk quota exceeded")


class LocalBackend:
    name = "local"

    def __init__(self, host: Optional[buildreqs.Host] = None) -> None:
        tools.require(("rpm", "rpmbuild", "bwrap", "unshare", "mount"), "the local build backend")
        if not sandbox.enabled():
            raise EnvironmentProblem(
                f"the local build backend needs its sandbox for the build root; unset {sandbox.DISABLE_VARIABLE} "
                "(or build with --backend mock)"
            )
        reason = sandbox.layers_available()
        if reason is not None:
            raise EnvironmentProblem(f"the local build backend cannot make build roots here: {reason}")
        self.host = host if host is not None else buildreqs.detect_host()

    def build(self, job: BuildJob) -> BuildOutcome:
        try:
            with open(job.log_path, "a", encoding="utf-8") as log:
                outcome = self._build(job, log)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise _no_space(job, str(exc)) from None
            raise
        if not outcome.ok and _out_of_space(job):
            raise _no_space(job, "the build failed for want of space")
        return outcome

    def _sandbox(self, job: BuildJob, layers: Tuple[str, ...] = ()) -> sandbox.Sandbox:
        scratch = job.work_dir
        readable = tuple(dict.fromkeys((job.source_dir, os.path.dirname(os.path.abspath(job.spec_path)))))
        # other builds' scratch and result directories, and other components' sources, are never in view
        hidden = tuple(dict.fromkeys(os.path.dirname(os.path.abspath(p))
                                     for p in (job.work_dir, job.output_dir, job.source_dir)))
        return sandbox.Sandbox(
            view="system", layers=layers, mountpoints=os.path.join(scratch, MOUNTS) if layers else None,
            writable=(os.path.join(scratch, TOPDIR),), readable=readable, tmp=os.path.join(scratch, TMP),
            hidden=hidden, chdir=job.source_dir,
        )

    def _rpmbuild(self, job: BuildJob, mode: str) -> List[str]:
        macros = (
            ("_topdir", os.path.join(job.work_dir, TOPDIR)),
            ("_sourcedir", job.source_dir),
            ("_specdir", job.source_dir),
            ("_tmppath", "/var/tmp"),
            *job.macros,
        )
        return ["rpmbuild", *define_args(macros), "--nodeps", mode, "--", job.spec_path]

    def _build(self, job: BuildJob, log: IO[str]) -> BuildOutcome:
        try:
            stream = [rpmlib.read_header(path) for path in job.dependency_rpms]
        except InputError as exc:
            return _fail(log, f"a dependency RPM cannot be used: {exc}; rebuild the component it came from "
                              "(remove its directory under the work directory's results/)")
        if job.expected_requires is not None:
            made = self._build_in_one_pass(job, log, stream)
            if made is not None:
                return made
        top = self._fresh_scratch(job)
        what = f"the build of {job.component}"

        # 1. the SRPM, whose header holds the exact BuildRequires
        if run_logged(sandbox.command(self._sandbox(job), self._rpmbuild(job, "-bs"), what), log,
                      cancel=job.cancel) != 0:
            return BuildOutcome(False, message="rpmbuild -bs failed: the spec or its sources cannot make an SRPM")
        srpms = collect(os.path.join(top, "SRPMS"), ".src.rpm")
        if not srpms:
            return _fail(log, "rpmbuild -bs made no SRPM")
        srpm = rpmlib.read_header(srpms[0])
        requires = tuple(dict.fromkeys((*srpm.requires, *job.generated_requires)))
        return self._build_in_root(job, log, stream, requires, srpm.nevra, "-bb")

    def _fresh_scratch(self, job: BuildJob) -> str:
        """The build's scratch directories, empty; returns rpmbuild's ``_topdir``."""
        scratch = job.work_dir
        for part in (TOPDIR, TREE, LDCACHE, TMP):
            shutil.rmtree(os.path.join(scratch, part), ignore_errors=True)
        top = os.path.join(scratch, TOPDIR)
        for sub in ("BUILD", "BUILDROOT", "RPMS", "SRPMS", "SOURCES", "SPECS"):
            os.makedirs(os.path.join(top, sub), exist_ok=True)
        os.makedirs(os.path.join(scratch, TMP), exist_ok=True)
        return top

    def _build_in_one_pass(self, job: BuildJob, log: IO[str], stream: List[rpmlib.PackageHeader]
                           ) -> Optional[BuildOutcome]:
        """``rpmbuild -ba`` in a build root made for the BuildRequires the analysis read
        (:attr:`BuildJob.expected_requires`), saving the SRPM's own sandbox before the build.

        The outcome stands when the SRPM requires exactly what the root was made for (a failed
        build's SRPM is made after it, to know). Otherwise (``None``) nothing of it is kept, its
        log included, and the build is made again the usual way, SRPM first, so that a
        BuildRequire only rpmbuild sees is resolved and reported as it always is.
        """
        assert job.expected_requires is not None
        top = self._fresh_scratch(job)
        requires = tuple(dict.fromkeys((*job.expected_requires, *job.generated_requires)))
        mark = log.tell()
        outcome = self._build_in_root(job, log, stream, requires, job.component, "-ba", quiet_failure=True)
        if not outcome.ok and ((job.cancel is not None and job.cancel.is_set()) or _out_of_space(job)):
            return outcome  # stopped, or the disk is full: building again would not help
        if outcome.resolution is not None and outcome.resolution.ok:
            srpm = outcome.srpm
            if srpm is None:  # a failed build: its SRPM, made aside (the build's log ends with the build's error)
                with open(os.path.join(job.work_dir, "srpm.log"), "w", encoding="utf-8") as aside:
                    if run_logged(sandbox.command(self._sandbox(job), self._rpmbuild(job, "-bs"),
                                                  f"the SRPM of {job.component}"), aside, cancel=job.cancel) == 0:
                        srpm = next(iter(collect(os.path.join(top, "SRPMS"), ".src.rpm")), None)
            if srpm is not None and set((*rpmlib.read_header(srpm).requires, *job.generated_requires)) == set(requires):
                return outcome
        for path in (*outcome.rpms, *((outcome.srpm,) if outcome.srpm else ())):
            os.unlink(path)
        log.truncate(mark)
        log.seek(mark)
        log.write("[stream-build] the SRPM's BuildRequires are not those the analysis read: "
                  "building again, SRPM first\n")
        return None

    def _build_in_root(self, job: BuildJob, log: IO[str], stream: List[rpmlib.PackageHeader], requires: Tuple[str, ...],
                       needed_by: str, mode: str, quiet_failure: bool = False) -> BuildOutcome:
        """Steps 2 to 4 of the module's docstring for ``requires``, then ``rpmbuild mode`` in the build root."""
        scratch = job.work_dir
        top = os.path.join(scratch, TOPDIR)
        what = f"the build of {job.component}"

        # 2. where every BuildRequire comes from
        resolution = buildreqs.resolve(requires, stream, self.host)
        if not resolution.ok and quiet_failure:
            return BuildOutcome(False, resolution=resolution)
        log.write("".join(f"[stream-build] {line}\n" for line in resolution.lines()))
        log.flush()
        if not resolution.ok:
            log.write("error: Failed build dependencies:\n")
            log.write("".join(f"\t{r.text} is needed by {needed_by}{_why(r)}\n" for r in resolution.missing))
            names = ", ".join(r.text for r in resolution.missing)
            return BuildOutcome(False, message=f"failed build dependencies: {names}", resolution=resolution)

        # 3. the stream RPMs it needs, installed with their files into a tree of its own
        tree = os.path.join(scratch, TREE)
        if make_tree(tree, resolution.install, log, job.cancel) != 0:
            return BuildOutcome(False, message="cannot install the stream RPMs it needs into its build root: "
                                               + (_last_line(job.log_path) or "rpm failed"), resolution=resolution)

        # 4. and 5. the build, with that tree laid over the host; first, in the same sandbox, the
        # dynamic linker's cache of that build root, as glibc's ldconfig trigger makes it in one
        box = self._sandbox(job, (tree,))
        command = self._rpmbuild(job, mode)
        library_dirs = _library_dirs(tree)
        made = None
        if library_dirs:
            cache_dir = os.path.join(scratch, LDCACHE)
            os.makedirs(cache_dir)
            conf, cache, made = (os.path.join(cache_dir, name) for name in ("ld.so.conf", "ld.so.cache", "made"))
            with open(conf, "w", encoding="utf-8") as handle:  # the tree's directories first, then the host's
                handle.write("".join(f"{d}\n" for d in library_dirs) + "include /etc/ld.so.conf\n")
            open(cache, "wb").close()  # shown as /etc/ld.so.cache; filled in place before rpmbuild starts
            box = dataclasses.replace(box, writable=(*box.writable, cache_dir), files=((cache, "/etc/ld.so.cache"),))
            command = ["sh", "-c", 'conf=$1 cache=$2 made=$3; shift 3; ldconfig -X -f "$conf" -C "$made" '
                       '&& cat "$made" > "$cache" && exec "$@"', "sh", conf, cache, made, *command]
        code = run_logged(sandbox.command(box, command, what), log, cancel=job.cancel)
        if code != 0:
            if made is not None and not os.path.getsize(os.path.join(scratch, LDCACHE, "ld.so.cache")):
                return BuildOutcome(False, message="ldconfig cannot index the build root's libraries",
                                    resolution=resolution)
            return BuildOutcome(False, message=f"rpmbuild exited with {code}", resolution=resolution)
        srpms = collect(os.path.join(top, "SRPMS"), ".src.rpm")
        if not srpms:
            return _fail(log, f"rpmbuild {mode} made no SRPM")
        os.makedirs(job.output_dir, exist_ok=True)
        rpms = []
        for path in collect(os.path.join(top, "RPMS"), ".rpm"):
            dest = os.path.join(job.output_dir, os.path.basename(path))
            shutil.move(path, dest)
            rpms.append(dest)
        out_srpm = os.path.join(job.output_dir, os.path.basename(srpms[0]))
        shutil.move(srpms[0], out_srpm)
        return BuildOutcome(True, tuple(rpms), out_srpm, "built", resolution=resolution)


def _library_dirs(tree: str) -> List[str]:
    """The directories of the tree (as the build sees them) that hold shared libraries."""
    found = []
    for root, _dirs, names in os.walk(tree):
        if any(name.startswith("lib") and ".so" in name for name in names):
            found.append("/" + os.path.relpath(root, tree))
    return sorted(d for d in found if not d.startswith(DBPATH))


def _fail(log: IO[str], message: str) -> BuildOutcome:
    log.write(f"[stream-build] error: {message}\n")
    return BuildOutcome(False, message=message)


def _why(requirement: buildreqs.Requirement) -> str:
    parts = [p for p in (requirement.reason, f"required by {requirement.needed_by}" if requirement.needed_by else "") if p]
    return f" ({'; '.join(parts)})" if parts else ""


def _last_line(path: str) -> str:
    lines = [line.strip() for line in log_tail(path, 5).splitlines() if line.strip()]
    return lines[-1][-300:] if lines else ""


def _out_of_space(job: BuildJob) -> bool:
    if any(words in log_tail(job.log_path, 40) for words in _NO_SPACE):
        return True
    try:
        stat = os.statvfs(job.work_dir if os.path.isdir(job.work_dir) else os.path.dirname(job.work_dir))
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < (1 << 20)


def _no_space(job: BuildJob, detail: str) -> DiskFull:
    """A build that filled its file system, said as every full disk is; the executor names the build."""
    return disk_full(os.path.dirname(os.path.abspath(job.work_dir)), f"writing its files ({detail})")
