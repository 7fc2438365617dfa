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
