"""The Python side of ``dnf5 stream-build``: what the C++ plugin hands over becomes stream-build arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streambuild.dnf5_shim import ENV_PREFIX, Dnf5Options, translate
from streambuild.errors import InputError

SEED = Path(__file__).parents[1] / "data" / "seed.yaml"


def env(**values: str) -> dict:
    return {ENV_PREFIX + key.upper(): value for key, value in values.items()}


def test_options_from_the_environment() -> None:
    assert Dnf5Options.from_env({}) == Dnf5Options("/", None, False, False)
    got = Dnf5Options.from_env(env(installroot="/srv/root/", releasever="44", assumeyes="1", assumeno="0"))
    assert got == Dnf5Options("/srv/root", "44", True, False)


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
    assert translate(["install", "m.yaml", "tinyllm"], options) == [
        "install", "--installroot", "/srv/root", "-y", "m.yaml", "tinyllm"]
    assert translate(["install"], Dnf5Options(assumeno=True)) == ["install", "--assumeno"]
    assert translate(["install", "m.yaml"], Dnf5Options()) == ["install", "m.yaml"]


def test_other_subcommands_pass_through_unchanged() -> None:
    options = Dnf5Options("/srv/root", None, True, False)
    assert translate(["build", "m.yaml", "--json", "--jobs", "4"], options) == ["build", "m.yaml", "--json", "--jobs", "4"]
    assert translate(["watch"], options) == ["watch"]


def test_releasever_must_match_the_streams_base(tmp_path) -> None:
    manifest = tmp_path / "stream-build.yaml"
    manifest.write_text(SEED.read_text())
    assert translate(["install", str(manifest)], Dnf5Options(releasever="44")) == ["install", str(manifest)]
    with pytest.raises(InputError, match="--releasever=43 does not match the stream's base fedora-44-x86_64"):
        translate(["install", str(manifest), "vllm", "--json"], Dnf5Options(releasever="43"))


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
