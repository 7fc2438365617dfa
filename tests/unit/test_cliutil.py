"""What every command shares: errors to exit codes, Ctrl-C advice, full disks, path options."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from streambuild import journal
from streambuild.cliutil import handle_errors, path_option
from streambuild.errors import InputError


def _exit(func, capsys) -> tuple:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as info:
        handle_errors(func)()
    return info.value.code, capsys.readouterr().err


def test_a_full_disk_met_anywhere_is_exit_4(capsys) -> None:
    def write() -> None:
        with open("/dev/full", "wb", buffering=0) as handle:  # the kernel's always-full device
            handle.write(b"x")

    code, err = _exit(write, capsys)
    assert code == 4 and err.startswith("stream-build: error: no space left on a device: writing a file failed")


def test_errors_are_messages_with_their_code_and_never_show_credentials(capsys) -> None:
    def fail() -> None:
        raise InputError("cannot reach https://alice:s3cret@example.org/rpms/a.git")

    assert _exit(fail, capsys) == (2, "stream-build: error: cannot reach https://***@example.org/rpms/a.git\n")


def test_ctrl_c_advises_resume_only_when_there_is_an_interrupted_run(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(journal, "_OPENED", set())

    def interrupt() -> None:
        raise KeyboardInterrupt

    code, err = _exit(interrupt, capsys)
    assert code == 130 and "nothing to resume" in err and "--resume" not in err
    finished = journal.Journal(str(tmp_path / "a" / "journal.jsonl"))
    finished.start_run()
    finished.write({"event": "run-end", "outcome": "ok"})
    assert "nothing to resume" in _exit(interrupt, capsys)[1]
    stopped = journal.Journal(str(tmp_path / "b" / "journal.jsonl"))
    stopped.start_run()
    assert _exit(interrupt, capsys) == (130, "stream-build: error: interrupted; run again with --resume to continue\n")


def test_path_options_refuse_what_rpm_would_expand(tmp_path: Path) -> None:
    @click.command()
    @click.option("--workdir", callback=path_option)
    def command(workdir: str) -> None:
        click.echo(workdir)

    runner = CliRunner()
    assert runner.invoke(command, ["--workdir", str(tmp_path / "ok")]).output == f"{tmp_path / 'ok'}\n"
    refused = runner.invoke(command, ["--workdir", str(tmp_path / "w-%(touch x)")])
    assert refused.exit_code == 2 and "--workdir" in refused.output and "holds '%'" in refused.output


def test_hosts_pass_their_own_verbosity_to_subcommands_that_take_it() -> None:
    from streambuild.cli import cli
    from streambuild.cliutil import host_args

    assert host_args(cli, ["build", "m.yaml"], verbose=True) == ["build", "-v", "m.yaml"]
    assert host_args(cli, ["status"], quiet=True) == ["status", "-q"]
    assert host_args(cli, ["schema"], verbose=True, quiet=True) == ["schema"]  # it takes neither
    assert host_args(cli, ["frobnicate"], quiet=True) == ["frobnicate"]


def test_a_host_call_parses_with_the_commands_own_options_and_raises_for_the_host(tmp_path: Path, capsys,
                                                                                 monkeypatch) -> None:
    from streambuild.cli import cli
    from streambuild.cliutil import HostCall

    monkeypatch.chdir(tmp_path)
    call = HostCall("dnf stream-build", cli, ["install", "a", "--json", "b"], {"host": "dnf"})
    assert call.params["packages"] == ("a", "b") and call.params["json_output"] is True
    with pytest.raises(InputError, match="no stream-build.yaml in"):
        HostCall("dnf stream-build", cli, ["status"], {"host": "dnf"}).run()  # raised for the host, not exit 2
    with pytest.raises(SystemExit) as usage:
        HostCall("dnf stream-build", cli, ["install", "-j", "3"], {"host": "dnf"})
    assert usage.value.code == 2
    assert "Usage: dnf stream-build install [OPTIONS] [PACKAGE]..." in capsys.readouterr().err


def test_two_different_manifests_are_refused(tmp_path: Path) -> None:
    from streambuild.cliutil import manifest_path

    assert manifest_path("a.yaml", "./a.yaml") == "a.yaml"
    with pytest.raises(InputError, match="two manifests given: a.yaml and --manifest b.yaml"):
        manifest_path("a.yaml", "b.yaml")
