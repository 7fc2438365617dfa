"""fedpkg's view: which stream set, whether the checkout belongs to it, which backend --target means."""

from __future__ import annotations

from pathlib import Path

import pytest

from streambuild import packager
from streambuild.errors import InputError
from streambuild.manifest import parse_manifest

SEED = (Path(__file__).parents[1] / "data" / "seed.yaml").read_text()


def test_the_manifest_is_given_or_in_the_checkout(tmp_path) -> None:
    assert packager.find_manifest(str(tmp_path), "elsewhere.yaml") == "elsewhere.yaml"
    with pytest.raises(InputError, match="no stream-build.yaml in .*: name the stream set .* with --manifest FILE"):
        packager.find_manifest(str(tmp_path))
    (tmp_path / "stream-build.yaml").write_text(SEED)
    assert packager.find_manifest(str(tmp_path)) == str(tmp_path / "stream-build.yaml")


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
    assert packager.backend_for(None, None) == ("auto", {})
    assert packager.backend_for(None, "mock") == ("mock", {})
    assert packager.backend_for("f44-build-side-1", None) == ("koji", {"target": "f44-build-side-1"})
    with pytest.raises(InputError, match="the local backend has none"):
        packager.backend_for("f44-build", "local")
    with pytest.raises(InputError, match="--target"):
        packager.backend_for("--evil", None)
