"""Making a source RPM from prepared sources (``rpmbuild -bs``), for builders that take SRPMs."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Sequence, Tuple

from .analyse import define_args
from .errors import EnvironmentProblem, InputError
from .sources import PreparedSource


def make_srpm(name: str, source: PreparedSource, macros: Sequence[Tuple[str, str]], out_dir: str, scratch: str) -> str:
    """Build the SRPM of ``name`` into ``out_dir``; ``scratch`` is an empty directory removed afterwards.

    :raises InputError: rpmbuild refused the spec (its message is kept), or made no single SRPM.
    """
    paths = [("_topdir", scratch), ("_sourcedir", source.directory), ("_specdir", source.directory),
             ("_srcrpmdir", out_dir)]
    os.makedirs(out_dir, exist_ok=True)
    before = set(os.listdir(out_dir))
    try:
        proc = subprocess.run(["rpmbuild", *define_args([*macros, *paths]), "-bs", "--", source.spec_path],
                              capture_output=True, text=True, cwd=source.directory)
    except FileNotFoundError:
        raise EnvironmentProblem("rpmbuild is not installed") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if proc.returncode != 0:
        raise InputError(f"component {name}: cannot make its SRPM: {proc.stderr.strip()[-400:]}")
    made = sorted(f for f in set(os.listdir(out_dir)) - before if f.endswith(".src.rpm"))
    if len(made) != 1:
        raise InputError(f"component {name}: rpmbuild -bs made {len(made)} SRPMs")
    return os.path.join(out_dir, made[0])
