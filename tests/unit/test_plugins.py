"""The plugin surface: every hook documented, every hook implemented and tested, registries."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from streambuild import hookspecs
from streambuild.errors import InputError
from streambuild.plugins import hookimpl, make_plugins
from streambuild.registry import Registry

TESTS = Path(__file__).parents[1]
HOOKS = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("streambuild_")]


def test_every_hook_is_documented() -> None:
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc) > 40, f"{name} needs a docstring saying what it receives and who implements it"


def test_every_hook_is_exercised_by_a_test() -> None:
    text = "".join(p.read_text() for p in TESTS.rglob("test_*.py") if p.name != "test_plugins.py")
    text += Path(__file__).read_text().rsplit("# -- exercised below --", 1)[1]
    for name in HOOKS:
        assert name in text, f"no test exercises hook {name}"


# -- exercised below --


def test_builtins_register_like_third_party_plugins() -> None:
    plugins = make_plugins(load_entry_points=False)
    assert set(plugins.registry.backends) == {"local", "mock", "koji"}
    assert set(plugins.registry.install_targets) == {"installroot", "host", "container"}
    assert set(plugins.registry.forges) == {"pagure", "forgejo", "git"}
    assert len(plugins.registry.policy_rules) == 8
    with pytest.raises(InputError, match="unknown build backend 'copr'"):
        plugins.registry.backend("copr")


def test_third_party_plugin_adds_a_backend_macros_and_sees_events() -> None:
    seen = []

    class Plugin:
        @hookimpl
        def streambuild_register(self, registry: Registry) -> None:
            registry.add_backend("null", object)

        @hookimpl
        def streambuild_build_macros(self, base, component):  # type: ignore[no-untyped-def]
            return {"_with_tests": "0"}

        @hookimpl
        def streambuild_event(self, event):  # type: ignore[no-untyped-def]
            seen.append(event["event"])

    plugins = make_plugins(extra=[Plugin()], load_entry_points=False)
    assert plugins.registry.backend("null") is object
    assert plugins.hook.streambuild_build_macros(base=None, component=None) == [{"_with_tests": "0"}]
    plugins.hook.streambuild_event(event={"event": "x"})
    assert seen == ["x"]


def test_a_misspelled_hook_fails_loudly() -> None:
    class Typo:
        @hookimpl
        def streambuild_evnet(self, event):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(Exception, match="streambuild_evnet"):
        make_plugins(extra=[Typo()], load_entry_points=False)


def test_a_name_registered_twice_is_an_error() -> None:
    registry = Registry()
    registry.add_backend("x", object)
    with pytest.raises(ValueError, match="registered twice"):
        registry.add_backend("x", object)
