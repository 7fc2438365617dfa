"""Names, refs, URLs and macros: what may reach git and rpm."""

from __future__ import annotations

import re

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


@pytest.mark.parametrize(
    "url, words",
    [
        ("ext::sh -c touch% /tmp/x", "spaces"), ("-u", "spaces"), ("https://", "no host"), ("ftp://x/", "schemes"),
        ("https://a b/", "spaces"), ("file://relative", "absolute"), ("https://x/$(id)", "shell"),
        ("https://x/`id`", "shell"), ("http://[::1/", "not a valid URL: Invalid IPv6 URL"),
        ("https://[::1/x", "not a valid URL"), ("http://h:99999/", "Port out of range"), ("http://h:0/", "port 0"),
        ("http://h:x/", "not a valid URL"), ("ssh://-oProxyCommand=touch%20x/r", "host starting with '-'"),
        ("ssh://git@-oProxyCommand=x/r", "host starting with '-'"), ("ssh://-l@host/r", "user name starting with '-'"),
        ("https://:80/", "no host"), ("file://example.org/srv", "absolute"),
    ],
)
def test_bad_urls(url: str, words: str) -> None:
    with pytest.raises(UnsafeValueError, match=re.escape(words)):
        values.check_url(url)


def test_urls_with_user_information_are_shown_redacted() -> None:
    assert values.check_url("https://user:secret@example.org/rpms/") == "https://user:secret@example.org/rpms/"
    with pytest.raises(UnsafeValueError) as info:
        values.check_url("ftp://user:secret@example.org/rpms/")
    assert "secret" not in str(info.value) and "ftp://***@example.org/rpms/" in str(info.value)
    assert values.redact("fatal: unable to access 'https://u:tok@h/x.git/': 403; ssh://git@h/y and a@b") == (
        "fatal: unable to access 'https://***@h/x.git/': 403; ssh://***@h/y and a@b")


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


@pytest.mark.parametrize("path", ["/var/tmp/x", "relative/dir", "/srv/with space/ü", "/a/b-c_d.e+f~g@h"])
def test_clean_paths(path: str) -> None:
    assert values.check_path(path) == path


@pytest.mark.parametrize(
    "path, words",
    [
        ("/tmp/x-%(touch /tmp/pwned)", "holds '%', which rpm would expand"),
        ('/tmp/%{lua: os.execute("id")}', "holds '%'"),
        ("/tmp/100%", "holds '%'"),
        ("/tmp/a\nb", "control character"),
        ("/tmp/a\x00b", "control character"),
        ("", "non-empty path"),
    ],
)
def test_paths_rpm_would_expand_are_refused(path: str, words: str) -> None:
    with pytest.raises(UnsafeValueError, match=re.escape(words)) as info:
        values.check_path(path, "--installroot")
    assert str(info.value).startswith("--installroot")
