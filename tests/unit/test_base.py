from __future__ import annotations

import pytest

from streambuild.base import RAWHIDE_VERSION, parse_base
from streambuild.errors import ManifestError


def test_fedora_macros() -> None:
    base = parse_base("fedora-44-x86_64")
    assert (base.distro, base.release, base.arch, base.name) == ("fedora", "44", "x86_64", "fedora-44-x86_64")
    assert base.macros() == {"dist": ".fc44", "fedora": "44", "fc44": "1"}


def test_rawhide_and_el() -> None:
    assert parse_base("fedora-rawhide-aarch64").dist == f".fc{RAWHIDE_VERSION}"
    el = parse_base("centos-stream-10-x86_64")
    assert el.macros() == {"dist": ".el10", "rhel": "10", "el10": "1"}
    assert parse_base("epel-9-x86_64").macros()["epel"] == "9"


@pytest.mark.parametrize("value", ["fedora-44", "debian-12-amd64", "fedora-44-sparc", "fedora-xx-x86_64", 44])
def test_rejected(value: object) -> None:
    with pytest.raises(ManifestError):
        parse_base(value)
