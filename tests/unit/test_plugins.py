"""The plugin surface: every hook documented, every hook implemented and tested, registries."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from streambuild import hookspecs
from streambuild.errors import InputError
from streambuild.plugins import hookimpl, make_plugins, may_declare_plugins
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
    assert set(plugins.registry.backends) == {"local", "mock"}
    assert set(plugins.registry.stream_backends) == {"koji"} and plugins.registry.builds_streams("koji")
    assert plugins.registry.backend_names == ("koji", "local", "mock")
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


def test_a_name_registered_twice_is_a_plugin_conflict() -> None:
    from streambuild.errors import PluginConflict

    class Twice:
        @hookimpl
        def streambuild_register(self, registry) -> None:  # type: ignore[no-untyped-def]
            registry.add_backend("local", object)

    with pytest.raises(PluginConflict, match="build backend 'local' is registered twice") as info:
        make_plugins(extra=[Twice()], load_entry_points=False)
    assert info.value.exit_code == 4

    class Shadow:
        @hookimpl
        def streambuild_register(self, registry) -> None:  # type: ignore[no-untyped-def]
            registry.add_stream_backend("mock", object)  # a stream backend may not take a backend's name either

    with pytest.raises(PluginConflict, match="'mock' is registered twice"):
        make_plugins(extra=[Shadow()], load_entry_points=False)


def test_build_macros_merge_in_order_later_plugins_winning() -> None:
    from streambuild.base import parse_base
    from streambuild.manifest import parse_manifest
    from streambuild.stream import Stream

    class First:
        @hookimpl
        def streambuild_build_macros(self, base, component):  # type: ignore[no-untyped-def]
            return {"_with_cuda": "0", "vendor": "first"}

    class Second:
        @hookimpl
        def streambuild_build_macros(self, base, component):  # type: ignore[no-untyped-def]
            return {"vendor": "second"}

    plugins = make_plugins(extra=[First(), Second()], load_entry_points=False)
    text = ("base: fedora-44-x86_64\nmacros: {vendor: manifest}\nbuild:\n- type: dist-git\n  url: file:///srv/\n"
            "  packages:\n  - a:release-1\n  - {name: b, ref: release-1, macros: {vendor: component}}\n")
    manifest = parse_manifest(text, "/tmp/m.yaml")
    stream = Stream.__new__(Stream)
    stream.manifest, stream.plugins = manifest, plugins
    a, b = manifest.components
    macros_a = dict(stream.macros_for(a))
    # the base's dist macros first, then the plugins (registered later wins), then the manifest, then the component
    assert macros_a["dist"] == parse_base("fedora-44-x86_64").dist and macros_a["_with_cuda"] == "0"
    assert macros_a["vendor"] == "manifest"
    assert dict(stream.macros_for(b))["vendor"] == "component"
    without_manifest = parse_manifest(text.replace("macros: {vendor: manifest}\n", ""), "/tmp/m.yaml")
    stream.manifest = without_manifest
    assert dict(stream.macros_for(without_manifest.components[0]))["vendor"] == "second"


# -- third-party plugins found through their distributions' entry points ---------------------------

PLUGIN_MODULE = """
from streambuild.plugins import hookimpl

@hookimpl
def streambuild_register(registry):
    registry.add_backend("from-entry-point", object)
"""


def _distribution(site: Path, entry_points: str, name: str = "sb_probe", suffix: str = ".dist-info") -> None:
    info = site / f"{name}-1.0{suffix}"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def _found_by_importlib(group: str = "streambuild") -> bool:
    import importlib.metadata

    return bool(importlib.metadata.entry_points(group=group))


def test_a_plugin_declared_by_an_installed_distribution_is_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sb_probe_plugin.py").write_text(PLUGIN_MODULE)
    _distribution(tmp_path, "[console_scripts]\nx = y:z\n\n  [streambuild] \nprobe = sb_probe_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert may_declare_plugins() and _found_by_importlib()
    assert "from-entry-point" in make_plugins().registry.backends


@pytest.mark.parametrize("entry_points", [
    "[console_scripts]\nstreambuild = streambuild.cli:main\n",  # the word, not the section
    "# [streambuild]\n[streambuild.extra]\nx = y\n",
    "",
])
def test_no_plugin_section_is_no_plugin_as_importlib_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         entry_points: str) -> None:
    _distribution(tmp_path, entry_points)
    _distribution(tmp_path, "[streambuild]\nx = y\n", name="sb_not_info", suffix=".txt")  # not a distribution
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not _found_by_importlib()
    assert not may_declare_plugins()  # nothing else on this machine declares one either


def test_places_it_does_not_read_itself_are_left_to_pluggy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "plugins.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip file on sys.path
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    assert may_declare_plugins()
    monkeypatch.setattr(sys, "path", [*sys.path[:-1], str(tmp_path / "x.egg")])
    assert may_declare_plugins()

    class Finder:
        @staticmethod
        def find_distributions(context: object = None) -> list:
            return []

    monkeypatch.setattr(sys, "path", sys.path[:-1])
    assert not may_declare_plugins()
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert may_declare_plugins()


def test_the_builtin_rules_are_made_when_first_asked_for() -> None:
    from streambuild.errors import PluginConflict

    script = ("import sys; from streambuild.plugins import make_plugins; p = make_plugins(); "
              "print('streambuild.policy.rules' in sys.modules, len(p.registry.policy_rules), "
              "'streambuild.policy.rules' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "8", "True"]

    class Same:
        name = "commit-rights"

    class Clash:
        @hookimpl
        def streambuild_register(self, registry) -> None:  # type: ignore[no-untyped-def]
            registry.add_policy_rule(Same())

    plugins = make_plugins(extra=[Clash()], load_entry_points=False)
    with pytest.raises(PluginConflict, match="policy rule 'commit-rights' is registered twice"):
        plugins.registry.policy_rules
