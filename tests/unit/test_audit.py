"""The series audit: what the stream met, what the base did, and builds made against the base."""

from __future__ import annotations

import pytest

from streambuild.audit import ComponentAudit, audit_build
from streambuild.baserepo import BasePackage, BaseProvides
from streambuild.providers import ProviderIndex

pytest.importorskip("rpm", reason="rpm's Python bindings compare the versions")

BASE = BaseProvides([BasePackage("python3-torch", "2.9.1-3.fc44", "x86_64", "", ("python3dist(torch) = 2.9.1",)),
                     BasePackage("gcc", "15.1-1.fc44", "x86_64", "", ("gcc = 15.1-1.fc44",))])


def test_met_by_the_stream_the_base_and_outside() -> None:
    root = ProviderIndex.of({"python-torch": (["python3dist(torch) = 2.11"], ["built"])})
    audit = audit_build("torchvision", ["python3dist(torch) >= 2.10", "gcc", "cmake"], root, root,
                        {"python-torch": "2.11.0-1.fc44"}, BASE)
    assert [(m.requirement, m.by, m.component) for m in audit.met] == [
        ("python3dist(torch) >= 2.10", "stream", "python-torch"), ("gcc", "base", ""), ("cmake", "outside", "")]
    assert audit.findings == ()
    assert ComponentAudit.from_json(audit.to_json()) == audit


def test_a_build_against_the_base_for_what_the_stream_has_is_a_finding() -> None:
    stream = ProviderIndex.of({"python-torch": (["python3dist(torch) = 2.11"], ["built"])})
    audit = audit_build("python-torchvision", ["python3dist(torch)"], ProviderIndex(), stream,
                        {"python-torch": "2.11.0-1.fc44"}, BASE)
    assert audit.findings == ("python-torchvision was built against the base's python3-torch 2.9.1-3.fc44 for "
                              "python3dist(torch); the stream has python-torch 2.11.0-1.fc44 (python3dist(torch) = 2.11)",)
    without_base = audit_build("python-torchvision", ["python3dist(torch)"], ProviderIndex(), stream,
                               {"python-torch": "2.11.0-1.fc44"}, None)
    assert "built against the host's python3dist(torch)" in without_base.findings[0]
