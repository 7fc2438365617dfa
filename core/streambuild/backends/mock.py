"""The ``mock`` backend: each component built in a clean chroot of the base by mock.

The SRPM is made on the host (``rpmbuild -bs``), the dependencies' RPMs are put in
a repository of their own (createrepo_c) which is added to the chroot with
``--addrepo``, and mock rebuilds the SRPM. mock's config is named like the base
(``fedora-44-x86_64``). Only available where mock is installed.
"""

from __future__ import annotations

import os
import shutil

from ..analyse import define_args
from ..errors import EnvironmentProblem
from ..plugins import hookimpl
from . import BuildJob, BuildOutcome, collect, run_logged


class MockBackend:
    name = "mock"

    def __init__(self) -> None:
        if shutil.which("mock") is None:
            raise EnvironmentProblem("the mock backend needs mock (Fedora: dnf install mock); it is not installed here")

    def build(self, job: BuildJob) -> BuildOutcome:
        top = os.path.join(job.work_dir, "rpmbuild")
        deps_repo = os.path.join(job.work_dir, "deps-repo")
        result = os.path.join(job.work_dir, "result")
        os.makedirs(deps_repo, exist_ok=True)
        with open(job.log_path, "a", encoding="utf-8") as log:
            macros = (("_topdir", top), ("_sourcedir", job.source_dir), ("_specdir", job.source_dir), *job.macros)
            if run_logged(["rpmbuild", *define_args(macros), "-bs", "--", job.spec_path], log, cancel=job.cancel) != 0:
                return BuildOutcome(False, message="rpmbuild -bs failed")
            srpms = collect(os.path.join(top, "SRPMS"), ".src.rpm")
            for rpm in job.dependency_rpms:
                shutil.copy(rpm, deps_repo)
            if run_logged(["createrepo_c", "--quiet", deps_repo], log, cancel=job.cancel) != 0:
                return BuildOutcome(False, message="createrepo_c failed for the dependencies' repository")
            cmd = ["mock", "-r", job.base.name, "--resultdir", result, f"--addrepo=file://{deps_repo}"]
            cmd += define_args(job.macros) + ["--rebuild", "--", srpms[0]]
            code = run_logged(cmd, log, cancel=job.cancel)
        if code != 0:
            return BuildOutcome(False, message=f"mock exited with {code}")
        os.makedirs(job.output_dir, exist_ok=True)
        rpms, srpm = [], None
        for path in collect(result, ".rpm"):
            dest = os.path.join(job.output_dir, os.path.basename(path))
            shutil.move(path, dest)
            if dest.endswith(".src.rpm"):
                srpm = dest
            else:
                rpms.append(dest)
        return BuildOutcome(True, tuple(rpms), srpm, "built")


@hookimpl
def streambuild_register(registry) -> None:  # type: ignore[no-untyped-def]
    registry.add_backend("mock", MockBackend)
