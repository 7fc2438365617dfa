"""Making a source RPM from prepared sources (``rpmbuild -bs``), for builders that take SRPMs."""

from __future__ import annotations

import os
import shutil
from typing import Sequence, Tuple

from . import sandbox
from .analyse import define_args
from .errors import EnvironmentProblem, InputError
from .sources import PreparedSource


SRPM_TIMEOUT = 300.0


def make_srpm(name: str, source: PreparedSource, macros: Sequence[Tuple[str, str]], out_dir: str, scratch: str) -> str:
    """Build the SRPM of ``name`` into ``out_dir``, sandboxed; ``scratch`` is a directory removed afterwards.

    :raises InputError: rpmbuild refused the spec (its message is kept), or made no single SRPM.
    """
    os.makedirs(scratch, exist_ok=True)
    tmp = os.path.join(scratch, "tmp")
    os.makedirs(tmp, exist_ok=True)
    paths = [("_topdir", scratch), ("_sourcedir", source.directory), ("_specdir", source.directory),
             ("_srcrpmdir", out_dir), ("_tmppath", tmp)]
    os.makedirs(out_dir, exist_ok=True)
    before = set(os.listdir(out_dir))
    # parsing the spec runs its macros: in the sandbox, as every spec parse (only scratch and out_dir writable)
    box = sandbox.Sandbox(writable=(scratch, out_dir), readable=(source.directory,), fedora_shell=True,
                          chdir=source.directory)
    try:
        done = sandbox.run(box, ["rpmbuild", *define_args([*macros, *paths]), "-bs", "--", source.spec_path],
                           f"making the SRPM of {name}", SRPM_TIMEOUT)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if done is None:
        raise InputError(f"component {name}: rpmbuild -bs did not finish within {SRPM_TIMEOUT:g} s")
    if done.returncode == 127 or b"rpmbuild: not found" in done.stderr:
        raise EnvironmentProblem("rpmbuild is not installed (Debian: apt install rpm; Fedora: dnf install rpm-build)")
    if done.returncode != 0:
        raise InputError(f"component {name}: cannot make its SRPM: "
                         f"{done.stderr.decode('utf-8', 'replace').strip()[-400:]}")
    made = sorted(f for f in set(os.listdir(out_dir)) - before if f.endswith(".src.rpm"))
    if len(made) != 1:
        raise InputError(f"component {name}: rpmbuild -bs made {len(made)} SRPMs")
    return os.path.join(out_dir, made[0])
