"""fedpkg's view: which stream set, whether the checkout belongs to it, which backend --target means."""

from __future__ import annotations

from pathlib import Path

import pytest

from streambuild import frontend, packager
from streambuild.errors import InputError
from streambuild.manifest import find_manifest, parse_manifest

SEED = (Path(__file__).parents[1] / "data" / "seed.yaml").read_text()


def test_the_manifest_is_given_or_in_the_checkout(tmp_path) -> None:
    assert find_manifest("elsewhere.yaml", str(tmp_path)) == "elsewhere.yaml"
    with pytest.raises(InputError, match="no stream-build.yaml in .*: name the manifest with --manifest FILE"):
        find_manifest(None, str(tmp_path))
    (tmp_path / "stream-build.yaml").write_text(SEED)
    assert find_manifest(None, str(tmp_path)) == str(tmp_path / "stream-build.yaml")


def test_the_dist_git_of_a_clone_is_its_url_without_the_package() -> None:
    assert packager.dist_git_base("ssh://pkgs.example.org/rpms/python-torch.git", "python-torch") == \
        "ssh://pkgs.example.org/rpms/"
    assert packager.dist_git_base("https://src.example.org/rpms/python-torch/", "python-torch") == \
        "https://src.example.org/rpms/"
    assert packager.dist_git_base("https://src.example.org/rpms/other.git", "python-torch") is None


def test_the_checkout_must_be_in_the_set_on_its_branch(tmp_path) -> None:
    m = parse_manifest(SEED, str(tmp_path / "s.yaml"))
    packager.check_checkout(m, "python-torch", "release-2.11")
    packager.check_checkout(m, "python-torch", None)
    with pytest.raises(InputError, match="on branch rawhide, but .* builds python-torch from release-2.11"):
        packager.check_checkout(m, "python-torch", "rawhide")
    with pytest.raises(InputError, match=r"does not contain numpy \(it has: python3.11, python-torch, vllm\)"):
        packager.check_checkout(m, "numpy", "rawhide")
    with pytest.raises(InputError, match="builds vllm from upstream git"):
        packager.check_checkout(m, "vllm", "releases/v0.20.0")


def test_target_means_koji() -> None:
    assert frontend.backend_for(None, None) == ("auto", {})
    assert frontend.backend_for(None, "mock") == ("mock", {})
    assert frontend.backend_for("f44-build-side-1", None) == ("koji", {"target": "f44-build-side-1"})
    with pytest.raises(InputError, match="the local backend has none"):
        frontend.backend_for("f44-build", "local")
    with pytest.raises(InputError, match="--target"):
        frontend.backend_for("--evil", None)
