"""PEP 508 requirements written as Fedora's %pyproject_buildrequires writes them for rpm."""

from __future__ import annotations

import pytest

from streambuild.pyreqs import convert, environment, rpm_version, to_rpm

ENV = environment("3.14")


@pytest.mark.parametrize("requirement, rpm", [
    ("torch", "python3dist(torch)"),
    ("Torch_Vision>=0.20", "python3dist(torch-vision) >= 0.20"),
    ("idna>=2.5,<4", "(python3dist(idna) >= 2.5 with python3dist(idna) < 4)"),
    ("foo==1.2.*", "(python3dist(foo) >= 1.2 with python3dist(foo) < 1.3)"),
    ("foo~=1.4.5", "(python3dist(foo) >= 1.4.5 with python3dist(foo) < 1.5)"),
    ("foo~=2.2", "(python3dist(foo) >= 2.2 with python3dist(foo) < 3)"),
    ("foo!=1.5.7", "(python3dist(foo) < 1.5.7 or python3dist(foo) > 1.5.7)"),
    ("foo==2.0rc1", "python3dist(foo) = 2.0~rc1"),
    ("foo>=1.0.post2", "python3dist(foo) >= 1.0^post2"),
    ("foo>=1.0.dev3", "python3dist(foo) >= 1.0~~dev3"),
    ("requests[socks]>=2", "(python3dist(requests) >= 2 and python3dist(requests[socks]) >= 2)"),
])
def test_conversions(requirement: str, rpm: str) -> None:
    assert to_rpm(requirement, ENV) == rpm


def test_markers_are_evaluated_for_the_bases_python() -> None:
    assert to_rpm('tomli>=1; python_version < "3.11"', ENV) is None
    assert to_rpm('tomli>=1; python_version < "3.11"', environment("3.9")) == "python3dist(tomli) >= 1"
    assert to_rpm('pywin32; sys_platform == "win32"', ENV) is None
    assert to_rpm('pysocks; extra == "socks"', ENV) is None
    assert to_rpm('pysocks; extra == "socks"', ENV, ["", "socks"]) == "python3dist(pysocks)"


def test_convert_keeps_order_and_drops_repeats() -> None:
    assert convert(["b", "a>=1", "b"], ENV) == ["python3dist(b)", "python3dist(a) >= 1"]


def test_rpm_versions_sort_as_python_does() -> None:
    assert rpm_version("1.0rc1") == "1.0~rc1" and rpm_version("2!1.0") == "2!1.0" and rpm_version("x.y") == "x.y"


def test_a_string_that_is_not_a_requirement_is_named() -> None:
    with pytest.raises(ValueError, match=r"'not a \[req' is not a Python requirement"):
        to_rpm("not a [req", ENV)
