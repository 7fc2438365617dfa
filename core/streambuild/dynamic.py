"""Dynamic BuildRequires: what a spec's ``%generate_buildrequires`` adds, learned before the build.

Two moments, both sandboxed (no network, the host read-only), both with a deadline:

- **While planning** (:func:`plan_time`): requirements a section prints itself (``echo ...``)
  are read from the spec; ``%pyproject_buildrequires`` is answered from the prepared sources,
  by Fedora's own generator where the host has it (``rpmbuild -br``) and otherwise through the
  project's PEP 517 hooks (:mod:`streambuild.pybuild`). Other generators (``%cargo_...``,
  ``%R_buildrequires``, shell) are left to the build: a note says the order may be incomplete
  until then. Results are cached with the analysis, by the sources' digest.
- **Before a component builds** (:func:`generator_round`): the generator itself runs on the
  sources, as mock does (``rpmbuild -br``), and its SRPM's header is the exact list.

A generator that cannot run, hangs or wants the network is a note naming the component, not
a crash; sources that are broken in a way the real build would also refuse (a
``pyproject.toml`` that is not TOML, an archive with members outside itself) are an
:class:`~streambuild.errors.AnalysisError`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

from . import sandbox
from ._foreign import rpmlib
from .analyse import Analysis, DynamicRequires, define_args
from .errors import AnalysisError

GENERATOR_TIMEOUT = 300.0


def source_file(analysis: Analysis, source_dir: str) -> Optional[str]:
    """The first source of a spec as a file in its prepared sources (``url#/name`` gives ``name``)."""
    if not analysis.sources:
        return None
    value = analysis.sources[0]
    name = value.rsplit("#/", 1)[-1] if "#/" in value else value.rstrip("/").rsplit("/", 1)[-1]
    path = os.path.join(source_dir, name)
    return path if name and os.path.isfile(path) else None


def _python_env() -> Dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "PYTHONDONTWRITEBYTECODE": "1"}


def _pyproject(name: str, analysis: Analysis, source_dir: str, args: Sequence[str], subdir: str,
               python_version: str, timeout: float) -> Tuple[List[str], bool, List[str]]:
    archive = source_file(analysis, source_dir)
    if archive is None:
        wanted = analysis.sources[0].rsplit("/", 1)[-1] if analysis.sources else "its Source0"
        return [], False, [f"{name}: %pyproject_buildrequires needs its sources ({wanted} is not at hand): "
                           "its generated BuildRequires are unknown and the order may be incomplete"]
    with tempfile.TemporaryDirectory(prefix="stream-build-pyproject-") as tmp:
        request = os.path.join(tmp, "request.json")
        with open(request, "w", encoding="utf-8") as handle:
            json.dump({"archive": archive, "subdir": subdir, "args": list(args), "python_version": python_version,
                       "timeout": timeout / 2}, handle)
        box = sandbox.Sandbox(readable=(source_dir, tmp), env=_python_env())
        done = sandbox.run(box, [sys.executable, "-m", "streambuild.pybuild", request], "the PEP 517 hooks", timeout)
    if done is None:
        return [], False, [f"{name}: %pyproject_buildrequires did not finish within {timeout:g} s on "
                           f"{os.path.basename(archive)}: the order may be incomplete"]
    try:
        answer = json.loads(done.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return [], False, [f"{name}: %pyproject_buildrequires could not run on {os.path.basename(archive)} "
                           f"({why[0][-200:]}): the order may be incomplete"]
    if not answer.get("ok"):
        raise AnalysisError(f"component {name}: {os.path.basename(archive)}: {answer.get('error')}")
    notes = [f"{name}: {note}" for note in answer.get("notes", [])]
    return list(answer.get("requires", [])), bool(answer.get("exact")), notes


def plan_time(name: str, analysis: Analysis, source_dir: str, python_version: str,
              timeout: float = GENERATOR_TIMEOUT) -> Optional[DynamicRequires]:
    """What can be learned of a spec's generated BuildRequires while planning; ``None`` without generators."""
    if not analysis.generators:
        return None
    requires: List[str] = []
    notes: List[str] = []
    exact = True
    for generator in analysis.generators:
        if generator.kind == "echo":
            requires += list(generator.args)
        elif generator.kind == "pyproject":
            found, was_exact, more = _pyproject(name, analysis, source_dir, generator.args, generator.directory,
                                                python_version, timeout)
            requires += found
            notes += more
            exact = exact and was_exact
        else:
            exact = False
            what = generator.text or f"%{generator.kind}_generate_buildrequires"
            notes.append(f"{name}: %generate_buildrequires runs {what!r}, which only its build can answer here: "
                         "the order may be incomplete until then")
    return DynamicRequires(tuple(dict.fromkeys(requires)), exact, tuple(notes))


def generator_round(name: str, spec_path: str, source_dir: str, macros: Sequence[Tuple[str, str]], work_dir: str,
                    timeout: float = GENERATOR_TIMEOUT) -> Tuple[Optional[List[str]], str]:
    """Run the spec's ``%prep`` and ``%generate_buildrequires`` as mock does (``rpmbuild -br``).

    Returns every BuildRequires of the resulting SRPM (static and generated), or ``None`` and
    why when the generator could not run.
    """
    top = os.path.join(work_dir, "generate")
    for sub in ("BUILD", "SRPMS", "tmp"):
        os.makedirs(os.path.join(top, sub), exist_ok=True)
    defines = (("_topdir", top), ("_sourcedir", source_dir), ("_specdir", source_dir),
               ("_tmppath", os.path.join(top, "tmp")), *macros)
    argv = ["rpmbuild", *define_args(defines), "-br", "--nodeps", "--", spec_path]
    box = sandbox.Sandbox(writable=(top,), readable=(source_dir,), fedora_shell=True)
    done = sandbox.run(box, argv, f"the %generate_buildrequires of {name}", timeout)
    if done is None:
        return None, f"%generate_buildrequires did not finish within {timeout:g} s"
    srpms = [os.path.join(top, "SRPMS", f) for f in os.listdir(os.path.join(top, "SRPMS")) if f.endswith(".rpm")]
    if done.returncode not in (0, 11) or not srpms:
        lines = [l for l in done.stderr.decode("utf-8", "replace").splitlines() if l.strip()]
        return None, "; ".join(lines[-2:]) or f"rpmbuild -br exited with {done.returncode}"
    return list(rpmlib.read_header(srpms[0]).requires), ""
