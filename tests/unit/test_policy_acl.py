"""Commit-rights sources: the plain file, and the per-run cache every source is used through."""

from __future__ import annotations

from typing import List, Optional, Tuple

import pytest

from streambuild.policy import acl
from streambuild.errors import InputError
from streambuild.policy import PolicyComponent


def component(name: str, source_type: str = "dist-git", url: Optional[str] = None) -> PolicyComponent:
    return PolicyComponent(name, source_type, url or f"https://src.example/rpms/{name}.git", "release-1", "1" * 40)


def test_file_acl(tmp_path):
    path = tmp_path / "acl.txt"
    path.write_text("# who may commit\npython3.11  jdoe asmith   # the maintainers\n\npython3.11 third\n"
                    "python-torch jdoe\n*  releng\n")
    source = acl.FileAcl(str(path))
    assert source.rights("jdoe", "python3.11") is True
    assert source.rights("third", "python3.11") is True  # lines for one package add up
    assert source.rights("asmith", "python-torch") is False  # listed package, not listed user
    assert source.rights("releng", "python-torch") is True  # '*' is every package
    assert source.rights("jdoe", "unlisted") is None  # the file cannot tell
    assert source.rights("releng", "unlisted") is True


@pytest.mark.parametrize("text, words", [
    ("python3.11\n", ":1: expected a package and the users"),
    ("ok jdoe\n../etc jdoe\n", ":2: package name '../etc' is not valid"),
    ("ok --all\n", ":1: user name '--all' is not valid"),
])
def test_file_acl_mistakes_name_the_line(tmp_path, text, words):
    path = tmp_path / "acl.txt"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        acl.FileAcl(str(path))
    assert words in str(info.value) and str(path) in str(info.value)


class Counting:
    """An AclSource that records what it was asked."""

    description = "a list in a test"

    def __init__(self) -> None:
        self.asked: List[Tuple[str, str]] = []

    def rights(self, user: str, package: str) -> Optional[bool]:
        self.asked.append((user, package))
        return package == "mine"


def test_commit_rights_asks_once_per_user_and_package_and_only_about_its_dist_git():
    source = Counting()
    rights = acl.CommitRights(source, prefix="https://src.example/rpms/")
    assert rights("jdoe", component("mine")) is True
    assert rights("jdoe", component("mine")) is True
    assert rights("jdoe", component("theirs")) is False
    assert rights("other", component("mine")) is True
    assert rights("jdoe", component("up", source_type="git")) is None  # upstream: not a dist-git ACL question
    assert rights("jdoe", component("far", url="https://elsewhere/rpms/far.git")) is None
    assert source.asked == [("jdoe", "mine"), ("jdoe", "theirs"), ("other", "mine")] and rights.asked == 3
    with pytest.raises(InputError):
        rights("j doe", component("mine"))


def test_sources_from_a_one_line_setting(tmp_path):
    assert acl.from_spec("none") is None
    (tmp_path / "a.txt").write_text("p jdoe\n")
    rights = acl.from_spec(f"file:{tmp_path / 'a.txt'}")
    assert rights is not None and rights("jdoe", component("p")) is True
    for bad in ("pagure:", "ldap:x", "pagure:ext::sh", "file:"):
        with pytest.raises(InputError):
            acl.from_spec(bad)
