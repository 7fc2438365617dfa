"""What every front-end decides the same way: the click CLI, DNF's plugin, the DNF5 shim and fedpkg.

Front-ends parse arguments in their host's style and print in their host's style;
everything in between lives here so that ``stream-build install``, ``dnf stream-build
install`` and ``fedpkg-stream stream-build`` refuse the same things with the same words:

- which install target, which packages and which root an install means
  (:func:`choose_install`);
- whether the stream has been built and provides every requested package
  (:func:`check_provided`), read from the published stream repository itself;
- which ``$releasever`` an install uses (:func:`releasever_for`);
- which lock the published repository was built from (:func:`built_lock`), for image labels;
- how a build runs, or starts in the background with ``--nowait`` (:func:`run_build`).

What they print is :mod:`streambuild.render`.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from . import journal as journal_mod
from . import tools, values
from .errors import InputError
from .manifest import Manifest

if TYPE_CHECKING:
    from .build import BuildReport
    from .lock import Lock
    from .detached import Detached
    from .publish import Published
    from .stream import Stream
    from .targets.container import ImageResult, ImageSettings

#: Install targets that take a root directory.
ROOT_TARGETS = ("installroot",)


@dataclass(frozen=True)
class InstallChoice:
    """What an install means once the command line and the manifest's ``install:`` are combined."""

    target: str
    packages: Tuple[str, ...]
    installroot: Optional[str] = None  # for the installroot target: an absolute directory
    output: Optional[str] = None  # for the container target: "oci-archive:PATH" or "docker-archive:PATH"


def check_package_arguments(packages: Sequence[str]) -> None:
    """Packages are positional arguments, as in DNF: one that is a manifest file is the old
    ``install MANIFEST`` form, refused saying what to type."""
    for name in packages:
        if name.endswith((".yaml", ".yml")) and os.path.isfile(name):
            raise InputError(f"install takes package names; {name} is a file: name the manifest with "
                             f"--manifest {name} (-m {name})")


def choose_install(
    manifest: Manifest,
    packages: Sequence[str] = (),
    installroot: Optional[str] = None,
    target: Optional[str] = None,
    output: Optional[str] = None,
) -> InstallChoice:
    """Combine command-line choices with the manifest's ``install:`` section.

    ``installroot`` (``--installroot``) wins over the manifest and means the
    ``installroot`` target; packages named on the command line win over
    ``install.packages``. ``output`` only applies to the ``container`` target.
    """
    spec = manifest.install
    check_package_arguments(packages)
    chosen = tuple(packages) or (spec.packages if spec else ())
    if not chosen:
        raise InputError("nothing to install: name packages, or list them under install.packages")
    for name in chosen:
        values.check_name(name, "package name")
    if installroot:
        if target not in (None, "installroot"):
            raise InputError(f"--installroot only applies to the installroot target, not {target!r}")
        if output:
            raise InputError("--output only applies to the container target, not to --installroot")
        return InstallChoice("installroot", chosen, values.check_path(os.path.abspath(installroot), "--installroot"))
    kind = target or (spec.type if spec else "host")
    if output and kind != "container":
        raise InputError(f"--output only applies to the container target, not {kind!r}")
    root = None
    if kind == "installroot":
        if not (spec and spec.path):
            raise InputError("install type 'installroot' needs --installroot DIR or install.path")
        root = values.check_path(os.path.join(manifest.directory, spec.path), "install.path")
    return InstallChoice(kind, chosen, root, output)


@dataclass(frozen=True)
class InstallOutcome:
    """What an install did: the NEVRAs installed and, for the container target, the image."""

    choice: InstallChoice
    installed: Tuple[str, ...]
    image: Optional["ImageResult"] = None

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {
            "event": "install-summary",
            "target": self.choice.target,
            "installroot": self.choice.installroot,
            "installed": list(self.installed),
        }
        if self.image is not None:
            data["image"] = self.image.to_json()
        return data

    def lines(self) -> List[str]:
        if self.image is not None:
            head = [f"image: {self.image.reference}"]
            if self.image.digest:
                head.append(f"digest: {self.image.digest}")
            return head + [f"installed {len(self.installed)} packages in the image:"] + [f"  {i}" for i in self.installed]
        where = f"into {self.choice.installroot}" if self.choice.installroot else "on this host"
        if not self.installed:
            return [f"nothing to install: {', '.join(self.choice.packages)} already installed {where}"]
        return [f"installed {len(self.installed)} packages {where}:"] + [f"  {i}" for i in self.installed]


def check_install_tools(choice: InstallChoice) -> None:
    """Before anything is built: what the install that follows will need is here (exit 4 otherwise)."""
    if choice.target == "container":
        tools.require(("buildah",), "the container install target")
    elif choice.target in ("installroot", "host"):
        from .install import dnf_api

        dnf_api()


def install(stream: "Stream", choice: InstallChoice, confirm: Optional[Callable[[List[str]], bool]] = None) -> InstallOutcome:
    """Install ``choice`` from the stream: the one install every front-end but DNF's own runs.

    (DNF's plugin runs the transaction with DNF's own Base instead, after the same
    :func:`check_provided`.)
    """
    check_provided(stream.stream_repo, choice.packages)
    if choice.target != "container":
        installed = stream.install(choice.target, choice.packages, choice.installroot, confirm)
        return InstallOutcome(choice, tuple(installed))
    factory = stream.plugins.registry.install_target("container")
    result: "ImageResult" = factory(image_settings(stream, choice.output)).build(stream.install_request(choice.packages))
    stream.emit({"event": "installed", "target": "container", "image": result.reference, "digest": result.digest,
                 "packages": list(result.packages)})
    return InstallOutcome(choice, result.packages, result)


def image_settings(stream: "Stream", output: Optional[str]) -> "ImageSettings":
    """The container target's settings: the manifest's ``install:`` and the lock the repo was built from."""
    from .targets.container import ImageSettings

    spec = stream.manifest.install
    if spec is None or spec.type != "container" or not spec.base_image or not spec.tag:
        raise InputError(
            f"{stream.manifest.path}: the container target needs an install: section of type container "
            "with base_image and tag"
        )
    lock = built_lock(stream.workdir.journal, stream.lock_path)
    return ImageSettings(
        base_image=spec.base_image,
        tag=spec.tag,
        registry=spec.registry,
        output=output,
        stream=stream.manifest.name,
        base=stream.manifest.base.name,
        commits=tuple((c.name, c.commit) for c in lock.components),
    )


# -- what the stream provides ----------------------------------------------------


def stream_packages(stream_repo: str) -> Dict[str, List[str]]:
    """Binary package names in a published stream repository -> their RPM file names.

    Raises :class:`InputError` when the repository has not been published yet.
    """
    from .publish import rpm_name

    if not os.path.exists(os.path.join(stream_repo, "repodata", "repomd.xml")):
        raise InputError("the stream has not been built yet: no stream repository (run 'stream-build build')")
    found: Dict[str, List[str]] = {}
    for path in sorted(glob.glob(os.path.join(glob.escape(stream_repo), "*.rpm"))):
        if path.endswith(".src.rpm"):
            continue
        found.setdefault(rpm_name(path), []).append(os.path.basename(path))
    return found


def check_provided(stream_repo: str, packages: Sequence[str]) -> Dict[str, List[str]]:
    """Refuse, before anything is installed, a package the stream does not ship.

    Build-only components are never in the stream repository, so naming one is
    refused here too. Returns what :func:`stream_packages` returned.
    """
    provided = stream_packages(stream_repo)
    missing = [name for name in packages if name not in provided]
    if missing:
        problems = "; ".join(f"package {name!r} is not provided by the stream" for name in missing)
        raise InputError(f"{problems} (it provides: {', '.join(sorted(provided)) or 'nothing'})")
    return provided


def releasever_for(manifest: Manifest, given: Optional[str]) -> str:
    """The ``$releasever`` to install with: the stream's base, which an explicit one must match.

    The stream's packages were built for one base (``%dist`` is in their
    release); installing them with another release's repositories would mix
    two distributions, so a different ``--releasever`` is refused.
    """
    wanted = manifest.base.releasever
    if given not in (None, "", wanted):
        raise InputError(
            f"--releasever={given} does not match the stream's base {manifest.base.name} "
            f"(its packages were built for release {wanted})"
        )
    return wanted


# -- which lock the published repository came from -------------------------------


def built_lock(journal_path: str, lock_path: str) -> "Lock":
    """The lock of the last successful build recorded in the journal (else the lock file).

    The lock file may have been re-resolved since the repository was published;
    the journal's ``run-start`` record holds the lock that run really built.
    """
    from . import lock as lock_mod

    starts: Dict[str, Dict[str, Any]] = {}
    last_ok: Optional[Dict[str, Any]] = None
    for record in journal_mod.read(journal_path):
        kind = record.get("event")
        if kind == "run-start" and record.get("lock"):
            starts[record.get("run") or ""] = record
        elif kind == "run-end" and record.get("outcome") == "ok" and record.get("run") in starts:
            last_ok = starts[record["run"]]
    if last_ok is not None:
        try:
            return _lock_from_json(last_ok["lock"])
        except (KeyError, TypeError, ValueError):
            pass  # an older journal format: fall back to the lock file
    return lock_mod.read_lock(lock_path)


def _lock_from_json(data: Mapping[str, Any]) -> "Lock":
    from . import lock as lock_mod

    return lock_mod.Lock(
        data["base"],
        tuple(
            lock_mod.LockedComponent(c["name"], c["type"], c["url"], c["ref"], c["resolved"], c["commit"])
            for c in data["components"]
        ),
    )


# -- building ----------------------------------------------------------------------


def backend_for(target: Optional[str], backend: Optional[str]) -> Tuple[str, Dict[str, Any]]:
    """``--target`` names a Koji build target (as in koji and fedpkg): it means the koji backend."""
    if target is not None:
        values.check_name(target, "--target")
        if backend not in (None, "koji"):
            raise InputError(f"--target names a Koji build target; the {backend} backend has none (use --backend koji)")
        return "koji", {"target": target}
    return backend or "auto", {}


def koji_options(backend: str, profile: Optional[str], koji_config: Optional[str]) -> Dict[str, Any]:
    """``-p``/``--profile`` and ``--koji-config``: options of the koji backend only."""
    given = {k: v for k, v in (("profile", profile), ("config", koji_config)) if v is not None}
    if given and backend != "koji":
        names = " and ".join(("--profile" if k == "profile" else "--koji-config") for k in given)
        raise InputError(f"{names} only apply to the koji backend (--backend koji or --target)")
    return given


def run_build(stream: "Stream", backend: str, options: Mapping[str, Any], mode: str = "auto", keep_going: bool = False,
              resume: bool = False, check: bool = True, nowait: bool = False
              ) -> Tuple[Optional["BuildReport"], Optional["Published"], Optional["Detached"]]:
    """Build here, or with ``nowait`` hand the build over and return: Koji's stream task goes on by itself,
    any other backend builds in a ``stream-build build --locked`` of its own in the background (after the
    lock is resolved here, so that bad refs are said now). The caller holds no work-directory lock."""
    from .detached import start_detached

    if not nowait or backend == "koji":
        with stream.workdir:
            report, published = stream.build(backend, mode, keep_going, resume, check,
                                             backend_options={**options, **({"nowait": True} if nowait else {})} or None)
        return report, published, None
    if resume:
        raise InputError("--nowait and --resume cannot be used together (resume in the foreground)")
    with stream.workdir:
        stream.lock("locked" if mode == "locked" else "auto")
    return None, None, start_detached(stream, backend, keep_going, check)
