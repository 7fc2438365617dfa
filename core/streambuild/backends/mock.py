"""The ``mock`` backend: each component built in a clean chroot of the base by mock.

The default backend where mock is installed (``--backend auto``): the chroot is the real
Fedora (or EL) build root of the base, its packages from the base's own repositories.
mock's config is named like the base (``fedora-44-x86_64``, ``centos-stream-10-x86_64``),
looked up where mock looks (``/etc/mock``, ``~/.config/mock``). The dependencies' RPMs from
the stream are put in a repository of their own (createrepo_c), which is added to the chroot
with ``--addrepo``. The SRPM is made by mock too (``--buildsrpm``: the spec is parsed inside
the chroot, not on the host), then rebuilt (``--rebuild``). mock resolves the BuildRequires
itself, so the outcome carries no :class:`~streambuild.buildreqs.Resolution`.

Not exercised here (Debian 12 has no Fedora repositories for mock's chroots); written
against mock's documented command line.
"""

from __future__ import annotations

import os
import shutil
from typing import List

from .. import tools
from ..analyse import define_args
from ..base import Base
from ..errors import EnvironmentProblem
from . import BuildJob, BuildOutcome, collect, run_logged

#: Where mock looks for a config named on its command line.
CONFIG_DIRS = ("/etc/mock", os.path.expanduser("~/.config/mock"))


def config_name(base: Base) -> str:
    """The mock config of a base: named like it (``fedora-44-x86_64``), as mock-core-configs names them."""
    return base.name


def find_config(base: Base) -> str:
    """The mock config file of ``base``; :class:`EnvironmentProblem` when mock has none."""
    name = config_name(base)
    for directory in CONFIG_DIRS:
        path = os.path.join(directory, f"{name}.cfg")
        if os.path.exists(path):
            return path
    raise EnvironmentProblem(
        f"mock has no config {name!r} for the base {base.name} (looked for {name}.cfg in "
        f"{' and '.join(CONFIG_DIRS)}); install mock-core-configs, or use --backend local"
    )


class MockBackend:
    name = "mock"

    def __init__(self) -> None:
        tools.require(("mock", "createrepo_c"), "the mock build backend")

    def build(self, job: BuildJob) -> BuildOutcome:
        config = find_config(job.base)
        deps_repo = os.path.join(job.work_dir, "deps-repo")
        srpm_dir = os.path.join(job.work_dir, "srpm")
        result = os.path.join(job.work_dir, "result")
        for directory in (deps_repo, srpm_dir, result):
            os.makedirs(directory, exist_ok=True)
        common: List[str] = ["mock", "-r", config, *define_args(job.macros)]
        with open(job.log_path, "a", encoding="utf-8") as log:
            for rpm in job.dependency_rpms:
                shutil.copy(rpm, deps_repo)
            if run_logged(["createrepo_c", "--quiet", deps_repo], log, cancel=job.cancel) != 0:
                return BuildOutcome(False, message="createrepo_c failed for the dependencies' repository")
            addrepo = [f"--addrepo=file://{deps_repo}"]
            code = run_logged([*common, *addrepo, "--resultdir", srpm_dir, "--buildsrpm", "--spec", job.spec_path,
                               "--sources", job.source_dir], log, cancel=job.cancel)
            srpms = collect(srpm_dir, ".src.rpm")
            if code != 0 or not srpms:
                return BuildOutcome(False, message=f"mock --buildsrpm exited with {code}")
            code = run_logged([*common, *addrepo, "--resultdir", result, "--rebuild", "--", srpms[0]], log,
                              cancel=job.cancel)
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
