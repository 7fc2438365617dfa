from __future__ import annotations

import pytest

from streambuild.errors import SourceError
from streambuild.sources import rewrite_spec, version_from_ref


@pytest.mark.parametrize(
    "ref, version",
    [("v0.20.0", "0.20.0"), ("releases/v0.20.0", "0.20.0"), ("2.11.0", "2.11.0"), ("V1.0rc1", "1.0rc1"),
     ("main", None), ("release-3.11", None), ("releases/next", None)],
)
def test_version_from_ref(ref: str, version: str) -> None:
    assert version_from_ref(ref) == version


def test_rewrite_spec_sets_version_and_first_source() -> None:
    text = "Name: x\nVersion:        0\nRelease: 1\nSource0: https://example.org/x-%{version}.tar.gz\nSource1: extra\n"
    out = rewrite_spec(text, "0.20.0", "x-0.20.0.tar.gz")
    assert "Version:        0.20.0\n" in out
    assert "Source0: x-0.20.0.tar.gz\n" in out and "Source1: extra\n" in out


def test_rewrite_spec_needs_a_version() -> None:
    with pytest.raises(SourceError):
        rewrite_spec("Name: x\n", "1", "x-1.tar.gz")
