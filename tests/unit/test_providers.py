"""Who provides what: versions as rpm compares them, import paths under a Go package, replacing predictions."""

from __future__ import annotations

import pytest

from streambuild.capabilities import SimpleDep
from streambuild.providers import ProviderIndex

pytest.importorskip("rpm", reason="rpm's Python bindings compare the versions")


def test_versions_are_compared_by_rpm() -> None:
    index = ProviderIndex()
    index.add("tinytorch", ["tinytorch-devel = 2.10.2-1.fc44"])
    met, offered = index.meeting(SimpleDep("tinytorch-devel", ">=", "2.11"))
    assert met == [] and [o[0] for o in offered] == ["tinytorch"]
    met, _ = index.meeting(SimpleDep("tinytorch-devel", ">=", "2.10"))
    assert [o[0] for o in met] == ["tinytorch"]


def test_a_component_never_provides_to_itself() -> None:
    index = ProviderIndex.of({"a": (["x"], ["spec"])})
    assert index.meeting(SimpleDep("x"), exclude="a") == ([], [])


def test_predictions_are_replaced_by_what_was_built() -> None:
    index = ProviderIndex()
    index.add("torch", ["python3dist(torch) = 2.11.0"], ["convention"])
    index.replace("torch", ["python3dist(torch) = 2.11", "libtorch.so.2()(64bit)"], ["built", "built"])
    assert [o[2] for o in index.offers("python3dist(torch)")] == ["built"]
    assert index.offers("libtorch.so.2()(64bit)")
    index.replace("torch", [], [])
    assert not index.offers("python3dist(torch)")


def test_go_import_paths_under_a_package() -> None:
    index = ProviderIndex.of({"cobra": (["golang(github.com/spf13/cobra/...)"], ["convention"])})
    assert [o[0] for o in index.offers("golang(github.com/spf13/cobra/doc)")] == ["cobra"]
    assert not index.offers("golang(github.com/spf13/viper)")
