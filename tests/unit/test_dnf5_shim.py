"""The Python side of ``dnf5 stream-build``: what the C++ plugin hands over becomes stream-build arguments."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from streambuild.dnf5_shim import ENV_PREFIX, SUBCOMMANDS, Dnf5Options, translate
from streambuild.errors import InputError

SEED = Path(__file__).parents[1] / "data" / "seed.yaml"


def env(**values: str) -> dict:
    return {ENV_PREFIX + key.upper(): value for key, value in values.items()}


def test_options_from_the_environment() -> None:
    assert Dnf5Options.from_env({}) == Dnf5Options("/", None, False, False, False)
    got = Dnf5Options.from_env(env(installroot="/srv/root/", releasever="44", assumeyes="1", assumeno="0", quiet="1"))
    assert got == Dnf5Options("/srv/root", "44", True, False, True)


@pytest.mark.parametrize("values, words", [
    ({"assumeyes": "maybe"}, "STREAM_BUILD_DNF5_ASSUMEYES='maybe': expected 1 or 0"),
    ({"installroot": "relative/root"}, "must be an absolute directory"),
    ({"releasever": "--rm"}, "is not a release version"),
])
def test_bad_options_are_refused(values, words) -> None:
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace("'", ".")):
        Dnf5Options.from_env(env(**values))


def test_install_gets_installroot_and_confirmation_options() -> None:
    options = Dnf5Options("/srv/root", None, True, False)
    assert translate(["install", "--manifest", "m.yaml", "tinyllm"], options) == [
        "install", "--installroot", "/srv/root", "-y", "--manifest", "m.yaml", "tinyllm"]
    assert translate(["install"], Dnf5Options(assumeno=True)) == ["install", "--assumeno"]
    assert translate(["install", "tinyllm", "--json", "hello"], Dnf5Options(quiet=True)) == [
        "install", "-q", "tinyllm", "--json", "hello"]


def test_other_subcommands_pass_through_unchanged() -> None:
    options = Dnf5Options("/srv/root", None, True, False)
    assert translate(["build", "m.yaml", "--json", "--jobs", "4"], options) == ["build", "m.yaml", "--json", "--jobs", "4"]
    assert translate(["watch"], options) == ["watch"]


def test_releasever_must_match_the_streams_base(tmp_path) -> None:
    manifest = tmp_path / "stream-build.yaml"
    manifest.write_text(SEED.read_text())
    args = ["install", "--manifest", str(manifest)]
    assert translate(args, Dnf5Options(releasever="44")) == args
    with pytest.raises(InputError, match="--releasever=43 does not match the stream's base fedora-44-x86_64"):
        translate([*args, "vllm", "--json"], Dnf5Options(releasever="43"))


@pytest.mark.parametrize("argv, words", [
    ([], "needs a subcommand"),
    (["frobnicate"], "unknown subcommand 'frobnicate'"),
])
def test_bad_subcommands(argv, words) -> None:
    with pytest.raises(InputError, match=words):
        translate(argv, Dnf5Options())


def test_no_wins_over_yes_as_in_dnf() -> None:
    assert translate(["install"], Dnf5Options(assumeyes=True, assumeno=True)) == ["install", "--assumeno"]


def test_the_module_the_plugin_execs_reports_errors_with_exit_codes(tmp_path) -> None:
    def run(*args: str, **values: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "streambuild.dnf5_shim", *args], cwd=tmp_path,
                              env={"PATH": "/usr/bin:/bin", "PYTHONPATH": os.environ.get("PYTHONPATH", ""), **env(**values)},
                              capture_output=True, text=True)

    bad = run("frobnicate")
    assert bad.returncode == 2 and "stream-build: error: unknown subcommand 'frobnicate'" in bad.stderr
    option = run("build", "--frobnicate")  # the CLI's own parser answers
    assert option.returncode == 2 and "No such option: --frobnicate" in option.stderr
    (tmp_path / "stream-build.yaml").write_text(SEED.read_text())
    status = run("status", installroot="/srv/root", assumeyes="1")
    assert status.returncode == 2 and "no run recorded" in status.stderr
    assert "Traceback" not in bad.stderr + option.stderr + status.stderr


CPP = Path(__file__).parents[2] / "plugins" / "dnf5" / "stream_build_plugin.cpp"
#: DNF5's own global options: DNF5 parses them wherever they stand, the plugin hands them over.
DNF5_GLOBAL = {"assumeyes", "assumeno", "installroot", "quiet"}


def _cpp_tables() -> tuple:
    source = CPP.read_text()
    options = {m.group(1): m.group(2) for m in re.finditer(r'\{"([a-z-]+)", \'(\\0|.)\', (?:true|false), "', source)}
    block = source[source.index("constexpr Subcommand SUBCOMMANDS[]"):]
    block = block[: block.index("};")]
    subcommands = {}
    for match in re.finditer(r'\{"([a-z]+)", "[^"]*",\s*((?:"[^"]*"\s*)+),\s*"[^"]*"\}', block):
        subcommands[match.group(1)] = " ".join(re.findall(r'"([^"]*)"', match.group(2))).split()
    return options, subcommands


def test_the_cpp_plugin_offers_each_subcommand_its_own_options() -> None:
    """What ``dnf5 stream-build SUBCOMMAND`` accepts is what ``stream-build SUBCOMMAND`` accepts, less DNF5's own."""
    import click

    from streambuild.cli import load

    options, subcommands = _cpp_tables()
    assert sorted(subcommands) == sorted(SUBCOMMANDS)
    for name, wanted in subcommands.items():
        command = load(name)
        python = {}
        for param in command.params:
            if isinstance(param, click.Option):
                long_name = [o for o in param.opts if o.startswith("--")][0][2:]
                shorts = [o[1] for o in param.opts if len(o) == 2]
                python[long_name] = shorts[0] if shorts else "\\0"
        expected = sorted(n for n in python if n.replace("-", "") not in DNF5_GLOBAL and n != "assumeyes")
        assert sorted(wanted) == expected, name
        for option in wanted:
            assert options[option] == python[option], f"{name} --{option}: short name"
    source = CPP.read_text()
    # positional arguments repeat after options (DNF5's `do` sets the same): `install --json hello`
    assert "rest->set_nrepeats(libdnf5::cli::ArgumentParser::PositionalArg::UNLIMITED);" in source
    assert 'setenv("STREAM_BUILD_DNF5_QUIET"' in source
