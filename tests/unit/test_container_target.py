"""The container target's decisions: image names, where the image goes, its labels, the DNF run inside it."""

from __future__ import annotations

import pytest

from streambuild.errors import InputError
from streambuild.targets.container import (
    LABEL_PREFIX, REPO_MOUNT, ContainerTarget, Destination, ImageSettings, check_image, dnf_in_image_args, image_dnf,
)
from streambuild.install import InstallRequest


@pytest.mark.parametrize("value", [
    "registry.fedoraproject.org/fedora:44", "fedora", "127.0.0.1:5000/base:latest", "quay.io/a/b/c",
    "localhost/x@sha256:" + "0" * 64,
])
def test_image_references(value) -> None:
    assert check_image(value, "install.base_image") == value


@pytest.mark.parametrize("value", ["-evil", "Fedora:44", "a b", "fedora:", "x/../y", "fedora:44;rm", ""])
def test_bad_image_references(value) -> None:
    with pytest.raises(InputError, match="install.base_image"):
        check_image(value, "install.base_image")


def settings(**changes) -> ImageSettings:
    base = dict(base_image="registry.fedoraproject.org/fedora:44", tag="vllm:latest", registry="quay.io/vllm",
                stream="vllm", base="fedora-44-x86_64", commits=(("python3.11", "a" * 40), ("vllm", "b" * 40)))
    base.update(changes)
    return ImageSettings(**base)  # type: ignore[arg-type]


def test_the_seeds_install_section_pushes_to_its_registry() -> None:
    assert settings().destination() == Destination("registry", "quay.io/vllm/vllm:latest")
    assert settings(tag="vllm").destination().reference == "quay.io/vllm/vllm:latest"
    assert settings(registry=None, tag="quay.io/other/vllm:2").destination() == Destination("registry", "quay.io/other/vllm:2")
    assert settings(registry=None).destination() == Destination("local", "localhost/vllm:latest")


def test_output_archives(tmp_path) -> None:
    dest = settings(output=f"oci-archive:{tmp_path}/image.tar").destination()
    assert dest == Destination("archive", f"{tmp_path}/image.tar", "oci-archive", "vllm:latest")
    assert dest.describe() == f"oci-archive:{tmp_path}/image.tar"
    assert settings(output=f"docker-archive:{tmp_path}/d.tar").destination().transport == "docker-archive"


@pytest.mark.parametrize("changes, words", [
    ({"output": "tar:/tmp/x"}, "must be oci-archive:PATH or docker-archive:PATH"),
    ({"output": "oci-archive:"}, "must be oci-archive:PATH"),
    ({"output": "oci-archive:/no/such/dir/x.tar"}, "directory /no/such/dir does not exist"),
    ({"output": "oci-archive:/tmp/a:b"}, "must not contain ':'"),
    ({"tag": "Vllm:latest"}, "install.tag 'Vllm:latest'"),
    ({"registry": "quay.io/vllm;rm"}, "install.registry"),
    ({"base_image": "--pull=always"}, "install.base_image"),
])
def test_bad_settings(changes, words) -> None:
    with pytest.raises(InputError, match=words.replace("(", r"\(")):
        settings(**changes).destination()


def test_labels_record_the_stream_the_lock_and_the_packages() -> None:
    labels = settings().labels(["vllm-0.20.0-1.fc44.noarch", "python3.11-3.11.9-1.fc44.x86_64"])
    assert labels == {
        LABEL_PREFIX + "stream": "vllm",
        LABEL_PREFIX + "base": "fedora-44-x86_64",
        LABEL_PREFIX + "packages": "python3.11-3.11.9-1.fc44.x86_64 vllm-0.20.0-1.fc44.noarch",
        LABEL_PREFIX + "commit.python3.11": "a" * 40,
        LABEL_PREFIX + "commit.vllm": "b" * 40,
    }


def test_the_dnf_inside_an_image(tmp_path) -> None:
    assert image_dnf(str(tmp_path)) is None
    (tmp_path / "usr" / "bin").mkdir(parents=True)
    (tmp_path / "usr" / "bin" / "dnf").symlink_to("dnf-3")  # dangling inside the host's view: still there
    assert image_dnf(str(tmp_path)) == "/usr/bin/dnf"
    (tmp_path / "usr" / "bin" / "dnf5").write_text("")
    assert image_dnf(str(tmp_path)) == "/usr/bin/dnf5"
    args = dnf_in_image_args("/usr/bin/dnf5", ["vllm"], "44")
    assert args[:3] == ["/usr/bin/dnf5", "-y", "install"]
    assert f"--repofrompath=stream-build,file://{REPO_MOUNT}" in args
    assert "--setopt=stream-build.priority=1" in args and "--releasever=44" in args
    assert args[-2:] == ["--", "vllm"]  # package names can never be read as options


def test_the_target_needs_its_settings(tmp_path) -> None:
    request = InstallRequest(["vllm"], str(tmp_path), "/", "44", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="needs install.base_image and install.tag"):
        ContainerTarget().install(request)

