"""The ``container`` install target: an OCI image of the stream's packages, built with buildah.

From the manifest's ``install:`` (``base_image``, ``tag``, ``registry``, ``packages``):

1. ``buildah from`` the base image (a working container with a unique name);
2. install the packages with the stream repository enabled: with the image's own
   DNF (``buildah run``, the stream repository mounted read-only and preferred by
   priority) when the image has one, otherwise into the mounted root from the host
   with :func:`streambuild.install.install` (libdnf5 or DNF4);
3. label the image with the stream, its base, every locked commit and the NEVRAs
   installed, and commit it;
4. push it to ``<registry>/<tag>`` (or write ``--output oci-archive:PATH``, or keep
   it in local containers-storage as ``localhost/<tag>`` when there is neither)
   and report the reference and digest.

The working container is removed in every case (``buildah rm`` unmounts it too) and
the committed image is dropped from local storage once it has been pushed or
written, so a failure leaves no containers, mounts or half-built images behind. A
push is the last step, so nothing is pushed before the image is complete; a push
that fails part-way leaves blobs but no tag in the registry, and an archive is
written under a temporary name and renamed into place only when complete.

Storage and registry settings are buildah's own (``containers-storage.conf``,
``registries.conf``; ``CONTAINERS_STORAGE_CONF``/``CONTAINERS_REGISTRIES_CONF``),
so an insecure loopback registry is declared there, as for any buildah use.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import EnvironmentProblem, InputError, InstallError
from ..install import InstallRequest, install

#: Prefix of the labels the image carries (reverse-DNS, as OCI recommends for annotations).
LABEL_PREFIX = "org.fedoraproject.stream-build."

#: Where the stream repository is mounted inside the working container for its own DNF.
REPO_MOUNT = "/run/stream-build/repo"

ARCHIVE_TRANSPORTS = ("oci-archive", "docker-archive")

_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?)"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"
_IMAGE = re.compile(rf"(?:{_HOST}/)?{_PATH_PART}(?:/{_PATH_PART})*(?::{_TAG})?(?:@{_DIGEST})?\Z")
_REGISTRY = re.compile(rf"{_HOST}(?:/{_PATH_PART})*\Z")
_NAME_TAG = re.compile(rf"{_PATH_PART}(?:/{_PATH_PART})*(?::{_TAG})?\Z")


def check_image(value: object, what: str) -> str:
    """An image reference such as ``registry.fedoraproject.org/fedora:44`` (no options, no spaces)."""
    if not isinstance(value, str) or not value or len(value) > 255 or not _IMAGE.match(value):
        raise InputError(
            f"{what} {value!r} is not an image reference like 'registry.example.org/name:tag' "
            "(lowercase path, optional :tag or @sha256:digest)"
        )
    return value


def check_registry(value: object, what: str = "install.registry") -> str:
    if not isinstance(value, str) or not value or len(value) > 255 or not _REGISTRY.match(value):
        raise InputError(f"{what} {value!r} is not a registry like 'quay.io/namespace' or '127.0.0.1:5000/ns'")
    return value


def check_tag(value: object, what: str = "install.tag") -> str:
    if not isinstance(value, str) or not value or len(value) > 255 or not _NAME_TAG.match(value):
        raise InputError(f"{what} {value!r} is not an image name like 'vllm:latest' (lowercase name, optional :tag)")
    return value


def _has_registry_host(reference: str) -> bool:
    first, _, rest = reference.partition("/")
    return bool(rest) and ("." in first or ":" in first or first == "localhost")


@dataclass(frozen=True)
class Destination:
    """Where the committed image goes."""

    kind: str  # "registry", "archive" or "local"
    reference: str  # registry: host/ns/name:tag; archive: the file; local: localhost/name:tag
    transport: str = ""  # archives: oci-archive or docker-archive
    name: str = ""  # archives: the image name recorded inside

    def describe(self) -> str:
        return f"{self.transport}:{self.reference}" if self.kind == "archive" else self.reference


@dataclass(frozen=True)
class ImageSettings:
    """Everything the container target needs beyond an :class:`InstallRequest`."""

    base_image: str
    tag: str
    registry: Optional[str] = None
    output: Optional[str] = None  # "oci-archive:PATH" or "docker-archive:PATH"
    stream: str = ""
    base: str = ""
    commits: Tuple[Tuple[str, str], ...] = ()  # (component, commit) from the lock the repo was built from

    def destination(self) -> Destination:
        """Check the settings and say where the image goes."""
        check_image(self.base_image, "install.base_image")
        tag = self.tag
        if self.registry is not None:
            check_registry(self.registry)
            check_tag(tag)
        else:
            check_image(tag, "install.tag")
        if ":" not in tag.rsplit("/", 1)[-1] and "@" not in tag:
            tag += ":latest"
        if self.output is not None:
            transport, sep, path = self.output.partition(":")
            if not sep or transport not in ARCHIVE_TRANSPORTS or not path:
                raise InputError(f"--output {self.output!r} must be oci-archive:PATH or docker-archive:PATH")
            if ":" in path or any(ord(ch) < 0x20 for ch in path):
                raise InputError(f"--output path {path!r} must not contain ':' or control characters")
            path = os.path.abspath(path)
            if not os.path.isdir(os.path.dirname(path)):
                raise InputError(f"--output: directory {os.path.dirname(path)} does not exist")
            return Destination("archive", path, transport, tag.rsplit("/", 1)[-1])
        if self.registry is not None:
            return Destination("registry", f"{self.registry.rstrip('/')}/{tag}")
        if _has_registry_host(tag):
            return Destination("registry", tag)
        return Destination("local", f"localhost/{tag}")

    def labels(self, packages: Sequence[str]) -> Dict[str, str]:
        labels = {
            f"{LABEL_PREFIX}stream": self.stream,
            f"{LABEL_PREFIX}base": self.base,
            f"{LABEL_PREFIX}packages": " ".join(sorted(packages)),
        }
        for name, commit in self.commits:
            labels[f"{LABEL_PREFIX}commit.{name}"] = commit
        return labels


@dataclass(frozen=True)
class ImageResult:
    """What was built and where it went."""

    reference: str
    digest: Optional[str]
    packages: Tuple[str, ...]
    labels: Dict[str, str] = field(default_factory=dict)
    method: str = "host"  # "host": the host's DNF into the mounted root; "image": the image's own DNF

    def to_json(self) -> Dict[str, object]:
        return {
            "reference": self.reference,
            "digest": self.digest,
            "installed": list(self.packages),
            "labels": dict(self.labels),
            "method": self.method,
        }


# -- buildah ---------------------------------------------------------------------


def _detail(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:") or "level=error" in line]
    detail = errors[-1] if errors else (lines[-1] if lines else "no message")
    return detail[len("Error: "):][-600:] if detail.startswith("Error: ") else detail[-600:]


def buildah(*args: str, what: str, error: type = InstallError) -> str:
    """Run buildah with ``args`` (never through a shell); return its standard output."""
    try:
        proc = subprocess.run(["buildah", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise EnvironmentProblem("buildah is not installed (Debian and Fedora: install the package 'buildah')") from None
    if proc.returncode != 0:
        raise error(f"{what}: {_detail(proc.stderr)}")
    return proc.stdout


_MISSING_IMAGE = ("manifest unknown", "name unknown", "not found", "no such image", "does not exist", "repository name not known")


def image_dnf(root: str) -> Optional[str]:
    """The DNF inside a mounted image root (``dnf5`` preferred), or None."""
    for candidate in ("usr/bin/dnf5", "usr/bin/dnf"):
        if os.path.lexists(os.path.join(root, candidate)):
            return "/" + candidate
    return None


def dnf_in_image_args(dnf: str, packages: Sequence[str], releasever: str) -> List[str]:
    """The DNF command run inside the image: the stream repository preferred over every other."""
    return [
        dnf, "-y", "install",
        f"--releasever={releasever}",
        f"--repofrompath=stream-build,file://{REPO_MOUNT}",
        "--setopt=stream-build.gpgcheck=0",
        "--setopt=stream-build.priority=1",  # the stream's series wins over newer base packages
        "--setopt=install_weak_deps=False",
        "--setopt=keepcache=False",
        "--", *packages,
    ]


class ContainerTarget:
    """Install target ``container``: build, label, commit and push an image."""

    name = "container"

    def __init__(self, settings: Optional[ImageSettings] = None) -> None:
        self.settings = settings

    def install(self, request: InstallRequest) -> List[str]:
        return list(self.build(request).packages)

    def build(self, request: InstallRequest) -> ImageResult:
        if self.settings is None:
            raise InputError("the container target needs install.base_image and install.tag from the manifest")
        settings = self.settings
        destination = settings.destination()
        if shutil.which("buildah") is None:
            raise EnvironmentProblem("buildah is not installed (Debian and Fedora: install the package 'buildah')")
        if not os.path.exists(os.path.join(request.stream_repo, "repodata", "repomd.xml")):
            raise InputError("the stream has not been built yet: no stream repository (run 'stream-build build')")
        container = f"stream-build-{uuid.uuid4().hex[:12]}"
        image_id: Optional[str] = None
        keep_image = destination.kind == "local"
        try:
            self._from(settings.base_image, container)
            root = buildah("mount", container, what="mounting the working container").strip()
            dnf = image_dnf(root)
            if dnf is not None:
                packages = self._install_in_image(container, dnf, request)
                method = "image"
            else:
                packages = self._install_from_host(root, request)
                method = "host"
            labels = settings.labels(packages)
            label_args = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
            buildah("config", *label_args, container, what="labelling the image")
            commit_args = ["commit", "--quiet", container]
            if keep_image:
                commit_args.append(destination.reference)
            image_id = buildah(*commit_args, what="committing the image").strip().splitlines()[-1]
            digest = self._push(image_id, destination)
            return ImageResult(destination.describe(), digest, tuple(packages), labels, method)
        finally:
            subprocess.run(["buildah", "rm", container], capture_output=True, stdin=subprocess.DEVNULL)
            if image_id is not None and not keep_image:
                subprocess.run(["buildah", "rmi", image_id], capture_output=True, stdin=subprocess.DEVNULL)

    @staticmethod
    def _from(base_image: str, container: str) -> None:
        try:
            proc = subprocess.run(
                ["buildah", "from", "--quiet", "--name", container, "--", base_image],
                capture_output=True, text=True, stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise EnvironmentProblem("buildah is not installed (Debian and Fedora: install the package 'buildah')") from None
        if proc.returncode != 0:
            detail = _detail(proc.stderr)
            if any(word in detail.lower() for word in _MISSING_IMAGE):
                raise InputError(f"install.base_image {base_image!r} does not exist: {detail}")
            raise InstallError(f"cannot pull install.base_image {base_image!r}: {detail}")

    @staticmethod
    def _install_from_host(root: str, request: InstallRequest) -> List[str]:
        """The host's DNF into the mounted root: :func:`streambuild.install.install`, which runs it in a
        process of its own pointed at the image's rpm database (the image's own, else the base's path),
        and whose exit closes that database completely before the image is committed."""
        return install(dataclasses.replace(request, installroot=root))

    @staticmethod
    def _install_in_image(container: str, dnf: str, request: InstallRequest) -> List[str]:
        query = ["rpm", "-qa", "--qf", "%{NEVRA}\\n"]
        isolation = [] if (shutil.which("crun") or shutil.which("runc")) else ["--isolation", "chroot"]
        before = set(buildah("run", *isolation, container, "--", *query, what="listing the image's packages").split())
        buildah(
            "run", *isolation, "--volume", f"{os.path.abspath(request.stream_repo)}:{REPO_MOUNT}:ro",
            container, "--", *dnf_in_image_args(dnf, request.packages, request.releasever),
            what=f"installing with the image's {os.path.basename(dnf)}",
        )
        after = set(buildah("run", *isolation, container, "--", *query, what="listing the image's packages").split())
        return sorted(after - before)

    @staticmethod
    def _push(image_id: str, destination: Destination) -> Optional[str]:
        if destination.kind == "local":
            return "sha256:" + image_id if re.fullmatch(r"[0-9a-f]{64}", image_id) else None
        with tempfile.TemporaryDirectory(prefix="stream-build-push-") as tmp:
            digest_file = os.path.join(tmp, "digest")
            if destination.kind == "archive":
                partial = f"{destination.reference}.partial-{os.getpid()}"
                try:
                    buildah(
                        "push", "--quiet", "--digestfile", digest_file, image_id,
                        f"{destination.transport}:{partial}:{destination.name}",
                        what=f"writing {destination.describe()}",
                    )
                    os.replace(partial, destination.reference)
                finally:
                    if os.path.exists(partial):
                        os.unlink(partial)
            else:
                buildah(
                    "push", "--quiet", "--digestfile", digest_file, image_id, f"docker://{destination.reference}",
                    what=f"pushing to {destination.reference} failed (no tag was written there)",
                )
            with open(digest_file, encoding="utf-8") as handle:
                return handle.read().strip() or None
