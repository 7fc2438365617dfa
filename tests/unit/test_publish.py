from __future__ import annotations

import pytest

from streambuild.errors import PolicyDenied
from streambuild.publish import check_unique_names, rpm_name


def test_rpm_name() -> None:
    assert rpm_name("/x/python3.11-devel-3.11.9-1.fc44.x86_64.rpm") == "python3.11-devel"
    assert rpm_name("gcc-c++-14.1-2.fc44.aarch64.rpm") == "gcc-c++"


def test_two_components_may_not_ship_the_same_binary_name() -> None:
    check_unique_names({"a": ["a-1-1.noarch.rpm"], "b": ["b-1-1.noarch.rpm"]})
    with pytest.raises(PolicyDenied, match=r"common \(from a and b\)"):
        check_unique_names({"a": ["common-1-1.noarch.rpm"], "b": ["common-2-1.noarch.rpm"]})
