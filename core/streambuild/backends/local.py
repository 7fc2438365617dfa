"""The ``local`` backend: rpmbuild on this host.

Each build gets its own rpm database holding exactly the binary RPMs of the
components it needs (recorded with ``--justdb``), and rpmbuild checks the spec's
BuildRequires against that database: on a host without Fedora's packages nothing
else can satisfy them, so a missing edge in the plan is a failed build, not a
silent success.
"""

from __future__ import annotations

import os
import shutil

from ..analyse import define_args
from ..plugins import hookimpl
from . import BuildJob, BuildOutcome, collect, run_logged


class LocalBackend:
    name = "local"

    def build(self, job: BuildJob) -> BuildOutcome:
        top = os.path.join(job.work_dir, "rpmbuild")
        dbpath = os.path.join(job.work_dir, "rpmdb")
        for sub in ("BUILD", "BUILDROOT", "RPMS", "SRPMS"):
            os.makedirs(os.path.join(top, sub), exist_ok=True)
        os.makedirs(dbpath, exist_ok=True)
        with open(job.log_path, "a", encoding="utf-8") as log:
            if run_logged(["rpm", "--dbpath", dbpath, "--initdb"], log, cancel=job.cancel) != 0:
                return BuildOutcome(False, message="cannot create the build's rpm database")
            if job.dependency_rpms:
                code = run_logged(
                    ["rpm", "--dbpath", dbpath, "-i", "--justdb", "--nodeps", "--noscripts", "--notriggers",
                     "--ignorearch", "--ignoreos", "--ignoresize", "--", *job.dependency_rpms],
                    log,
                    cancel=job.cancel,
                )
                if code != 0:
                    return BuildOutcome(False, message="cannot record the dependencies' RPMs in the build's rpm database")
            macros = (
                ("_topdir", top),
                ("_sourcedir", job.source_dir),
                ("_specdir", job.source_dir),
                *job.macros,
            )
            code = run_logged(
                ["rpmbuild", *define_args(macros), "--dbpath", dbpath, "-ba", "--", job.spec_path], log, cwd=job.source_dir,
                cancel=job.cancel,
            )
        if code != 0:
            return BuildOutcome(False, message=f"rpmbuild exited with {code}")
        os.makedirs(job.output_dir, exist_ok=True)
        rpms = []
        for path in collect(os.path.join(top, "RPMS"), ".rpm"):
            dest = os.path.join(job.output_dir, os.path.basename(path))
            shutil.move(path, dest)
            rpms.append(dest)
        srpms = collect(os.path.join(top, "SRPMS"), ".src.rpm")
        srpm = None
        if srpms:
            srpm = os.path.join(job.output_dir, os.path.basename(srpms[0]))
            shutil.move(srpms[0], srpm)
        return BuildOutcome(True, tuple(rpms), srpm, "built")


@hookimpl
def streambuild_register(registry) -> None:  # type: ignore[no-untyped-def]
    registry.add_backend("local", LocalBackend)
