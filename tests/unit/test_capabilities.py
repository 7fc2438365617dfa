"""Capability names in rpm dependency strings, and satisfying them from a set of provides."""

from __future__ import annotations

import pytest

from streambuild.capabilities import (
    RichDep,
    SimpleDep,
    capability_names,
    parse_dependency,
    provide_name,
    satisfied_by,
)


@pytest.mark.parametrize(
    "dep, names",
    [
        ("foo", ("foo",)),
        ("foo >= 1.2", ("foo",)),
        ("python3-devel >= 3.11", ("python3-devel",)),
        ("pkgconfig(glib-2.0) >= 2", ("pkgconfig(glib-2.0)",)),
        ("perl(Foo::Bar) >= 1.0", ("perl(Foo::Bar)",)),
        ("libc.so.6()(64bit)", ("libc.so.6()(64bit)",)),
        ("/usr/bin/appstream-util", ("/usr/bin/appstream-util",)),
        ("foo>=1.2", ("foo",)),
        ("  foo  ", ("foo",)),
    ],
)
def test_simple_dependencies(dep: str, names: tuple) -> None:
    assert capability_names(dep) == names


@pytest.mark.parametrize(
    "dep, names",
    [
        ("(a >= 1 or b)", ("a", "b")),
        ("(a and (b if c))", ("a", "b", "c")),
        ("(a if c else d)", ("a", "c", "d")),
        ("(a unless c else d)", ("a", "c", "d")),
        ("(a with b)", ("a", "b")),
        ("(a without b)", ("a", "b")),
        ("(a or b or c)", ("a", "b", "c")),
        # the same name twice is listed once
        (
            "(crate(serde/derive) >= 1.0 with crate(serde/derive) < 2.0)",
            ("crate(serde/derive)",),
        ),
        ("((adobe-afdko >= 4.0.3) with (adobe-afdko < 5~~))", ("adobe-afdko",)),
        (
            "(rubygem(rack) < 3 or (rubygem(rack) >= 3 and rubygem(rackup)))",
            ("rubygem(rack)", "rubygem(rackup)"),
        ),
        (
            "(libvips.so.42()(64bit) if libc.so.6()(64bit))",
            ("libvips.so.42()(64bit)", "libc.so.6()(64bit)"),
        ),
        ("(glibc32 or glibc-devel(x86-32))", ("glibc32", "glibc-devel(x86-32)")),
    ],
)
def test_rich_dependencies_give_every_operand(dep: str, names: tuple) -> None:
    assert capability_names(dep) == names


def test_unexpanded_macros_are_kept_as_they_are() -> None:
    assert capability_names("python%{python3_pkgversion}-foo >= 1") == (
        "python%{python3_pkgversion}-foo",
    )
    assert capability_names("(%{name}-devel or bar)") == ("%{name}-devel", "bar")


@pytest.mark.parametrize("dep", ["", "   ", "(", ")", "(a or", "(or)", "(() or a)", "(>= 1 or b)"])
def test_malformed_strings_never_raise(dep: str) -> None:
    names = capability_names(dep)
    assert isinstance(names, tuple)
    assert all(n and n not in ("or", ">=", "1", "(", ")") for n in names)


def test_deeply_nested_string_does_not_raise() -> None:
    assert capability_names("(" * 3000 + "a" + ")" * 3000) == ("a",)


def test_parse_structure() -> None:
    assert parse_dependency("foo >= 1.2") == SimpleDep("foo", ">=", "1.2")
    assert parse_dependency("(a if b else c)") == RichDep(
        "if", (SimpleDep("a"), SimpleDep("b"), SimpleDep("c"))
    )
    nested = parse_dependency("(a or (b and c))")
    assert nested == RichDep("or", (SimpleDep("a"), RichDep("and", (SimpleDep("b"), SimpleDep("c")))))


@pytest.mark.parametrize(
    "provide, name",
    [
        ("python3-torch = 2.9.1-1", "python3-torch"),
        ("0ad(x86-64) = 0.28.0-6", "0ad(x86-64)"),
        ("pkgconfig(glib-2.0) = 2.80.0", "pkgconfig(glib-2.0)"),
        ("libfoo.so.1()(64bit)", "libfoo.so.1()(64bit)"),
        ("2ping = 4.6.1-%autorelease", "2ping"),
        ("bare", "bare"),
    ],
)
def test_provide_name(provide: str, name: str) -> None:
    assert provide_name(provide) == name


def test_satisfied_by_follows_the_boolean_operators() -> None:
    has = {"a", "b"}.__contains__
    assert satisfied_by("a >= 2", has)
    assert not satisfied_by("z", has)
    assert satisfied_by("(z or b)", has)
    assert not satisfied_by("(a and z)", has)
    assert satisfied_by("(a with b)", has)
    assert satisfied_by("(a without z)", has)
    # conditionals: the "then" branch is needed (the condition may hold), or the "else" one
    assert satisfied_by("(a if z)", has)
    assert not satisfied_by("(z if a)", has)
    assert satisfied_by("(z if c else b)", has)
    assert not satisfied_by("(z unless a)", has)
    assert satisfied_by("", has)
