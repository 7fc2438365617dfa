"""Names, refs, URLs and macros: what may reach git and rpm."""

from __future__ import annotations

import pytest

from streambuild import values
from streambuild.errors import UnsafeValueError


@pytest.mark.parametrize("ref", ["main", "release-3.11", "releases/v0.20.0", "v1.2.3", "f44", "a" * 40])
def test_good_refs(ref: str) -> None:
    assert values.check_ref(ref) == ref


@pytest.mark.parametrize(
    "ref",
    ["--upload-pack=touch /tmp/x", "-b", "$(id)", "`id`", "../../etc", "a..b", "a b", "a\nb", "a;b", "a|b",
     "/abs", "trail/", "x.lock", "a/.hidden", "a@{1}", "a~1", "a^", "a:b", "a*", "a[", "a\\b", "", "a//b"],
)
def test_bad_refs(ref: str) -> None:
    with pytest.raises(UnsafeValueError) as info:
        values.check_ref(ref)
    assert repr(ref) in str(info.value) or not ref


@pytest.mark.parametrize("name", ["python3.11", "python-torch", "gcc-c++", "perl-Foo_Bar", "0ad"])
def test_good_names(name: str) -> None:
    assert values.check_name(name) == name


@pytest.mark.parametrize("name", ["-x", ".x", "a/b", "a b", "a\nb", "$(id)", "", "a" * 201, "../x"])
def test_bad_names(name: str) -> None:
    with pytest.raises(UnsafeValueError):
        values.check_name(name)


@pytest.mark.parametrize("url", ["https://src.fedoraproject.org/rpms/", "git://127.0.0.1:9418/rpms/",
                                 "file:///srv/git/", "ssh://git@example.org/x", "http://127.0.0.1:8080/"])
def test_good_urls(url: str) -> None:
    assert values.check_url(url) == url


@pytest.mark.parametrize("url", ["ext::sh -c touch% /tmp/x", "-u", "https://", "ftp://x/", "https://a b/",
                                 "file://relative", "https://x/$(id)", "https://x/`id`"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(UnsafeValueError):
        values.check_url(url)


def test_commits_and_file_names() -> None:
    assert values.is_full_commit("0" * 40) and values.is_full_commit("a" * 64)
    assert not values.is_full_commit("abc123")
    with pytest.raises(UnsafeValueError):
        values.check_commit("abc123")
    assert values.check_file_name("Python-3.11.9.tar.xz") == "Python-3.11.9.tar.xz"
    for bad in ("../x", "a/b", ".hidden", "-x"):
        with pytest.raises(UnsafeValueError):
            values.check_file_name(bad)
    assert values.check_relative_path("specs/a.spec") == "specs/a.spec"
    for bad in ("/etc/passwd", "../a.spec", "a//b", "a/../b"):
        with pytest.raises(UnsafeValueError):
            values.check_relative_path(bad)


def test_macros() -> None:
    assert values.check_macro_name("_with_cuda") == "_with_cuda"
    for bad in ("1x", "a-b", "%x", ""):
        with pytest.raises(UnsafeValueError):
            values.check_macro_name(bad)
    with pytest.raises(UnsafeValueError):
        values.check_macro_value("x", "a\nb")
