"""The command line's contract: exit codes, messages on stderr, no tracebacks, nothing left behind."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli

pytestmark = pytest.mark.integration

GOOD = "base: fedora-44-x86_64\nbuild:\n- type: git\n  url: file:///nonexistent/\n  packages: [a:main]\n"


def test_validate(tmp_path):
    (tmp_path / "s.yaml").write_text(GOOD)
    out = cli("validate", "s.yaml", "--json", cwd=tmp_path)
    assert out.code == 0 and json.loads(out.stdout)["components"] == ["a"]


@pytest.mark.parametrize(
    "text, words",
    [
        ("base: [\n", "s.yaml:2:1: not valid YAML"),
        (GOOD.replace("[a:main]", "['a:--upload-pack=touch /tmp/x']"), "starts with '-'"),
        (GOOD.replace("[a:main]", "['a:$(id)']"), "shell character"),
        (GOOD.replace("[a:main]", "['a/b:main']"), "package name 'a/b' is not valid"),
        (GOOD.replace("[a:main]", "[{name: \"a\\nb\", ref: main}]"), "package name 'a\\nb' is not valid"),
        (GOOD.replace("[a:main]", "['../../etc:main']"), "package name '../../etc'"),
        (GOOD + "surprise: 1\n", "unknown key 'surprise'"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "lock", "plan", "build", "run", "install"])
def test_bad_manifests_exit_2_and_create_nothing(tmp_path, text, words, command):
    (tmp_path / "s.yaml").write_text(text)
    out = cli(command, *(["-m", "s.yaml"] if command == "install" else ["s.yaml"]), cwd=tmp_path)
    assert out.code == 2
    assert out.stderr.startswith("stream-build: error: ") and words in out.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["frobnicate"], "No such command"),
        (["build", "--jobs", "0"], "Invalid value"),
        (["build", "--no-such-option"], "No such option"),
        (["plan", "--json", "--dot"], "cannot be used together"),
        (["validate", "missing.yaml"], "manifest not found"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, args, words):
    (tmp_path / "s.yaml").write_text(GOOD)
    if args[0] == "plan":
        args = args + ["s.yaml"]
    out = cli(*args, cwd=tmp_path)
    assert out.code == 2 and words in out.stderr


@pytest.mark.parametrize("workdir", ["/proc/stream-build-here", "{tmp}/a-file/below"])
@pytest.mark.parametrize("command", ["lock", "plan", "build"])
def test_a_work_directory_that_cannot_be_made_is_exit_4_naming_it(tmp_path, workdir, command):
    (tmp_path / "s.yaml").write_text(GOOD)
    (tmp_path / "a-file").write_text("not a directory")
    where = workdir.format(tmp=tmp_path)
    out = cli(command, "s.yaml", "--workdir", where, cwd=tmp_path)
    assert out.code == 4, out.stderr
    assert f"cannot use {where} as the work directory: " in out.stderr and "Traceback" not in out.stderr


def test_status_without_runs(tmp_path):
    (tmp_path / "s.yaml").write_text(GOOD)
    out = cli("status", "s.yaml", cwd=tmp_path)
    assert out.code == 2 and "no run recorded" in out.stderr


def _bomb(levels: int) -> bytes:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return ("\n".join(lines) + "\n").encode() + GOOD.encode()


@pytest.mark.parametrize(
    "raw, words",
    [
        (GOOD.replace("main]", "ma\x00in]").encode(), "s.yaml:5:18: character U+0000 is not allowed"),
        (GOOD.replace("main]", "ma\x1bin]").encode(), "s.yaml:5:18: character U+001B is not allowed"),
        (GOOD.encode().replace(b"main]", b"ma\xffin]"), "s.yaml:5:18: not valid UTF-8: byte 0xff"),
        (GOOD.replace("fedora-44-x86_64", "!!int abc").encode(), "s.yaml:1:7: YAML tags (!!int)"),
        (GOOD.replace("fedora-44-x86_64", "!!timestamp 2020-13-45").encode(), "s.yaml:1:7: YAML tags (!!timestamp)"),
        (GOOD.replace("[a:main]", "[{<<: {name: a}, ref: main}]").encode(), "s.yaml:5:15: merge keys"),
        (GOOD.replace("file:///nonexistent/", "'http://[::1/'").encode(), "s.yaml:4:8: url 'http://[::1/' is not a valid URL"),
        (GOOD.replace("[a:main]", "[" * 2000 + "]" * 2000).encode(), "s.yaml:5:74: nested more than 64 levels"),
        (_bomb(9), "s.yaml:7:"),
    ],
)
def test_hostile_manifests_are_located_errors(tmp_path, raw, words):
    (tmp_path / "s.yaml").write_bytes(raw)
    out = cli("validate", "s.yaml", cwd=tmp_path, timeout=60)
    assert out.code == 2 and out.stderr.startswith(f"stream-build: error: {words}"), out.stderr


def test_credentials_in_urls_are_never_shown(tmp_path):
    with socket.socket() as refusing:  # a port nothing listens on: git cannot connect
        refusing.bind(("127.0.0.1", 0))
        port = refusing.getsockname()[1]
    text = GOOD.replace("file:///nonexistent/", f"http://alice:s3cret-token@127.0.0.1:{port}/rpms/")
    (tmp_path / "s.yaml").write_text(text)
    for args in (["lock", "s.yaml"], ["build", "s.yaml", "--json"]):
        out = cli(*args, cwd=tmp_path)
        assert out.code == 2 and f"http://***@127.0.0.1:{port}/rpms/a" in out.stderr, out.stderr
        assert "s3cret" not in out.stderr + out.stdout and "alice" not in out.stderr + out.stdout
    (tmp_path / "s.yaml").write_text(text.replace("packages: [a:main]", "packages: ['a:--x']"))
    out = cli("validate", "s.yaml", cwd=tmp_path)
    assert out.code == 2 and "s3cret" not in out.stderr


@pytest.mark.parametrize("url", ["ssh://-oProxyCommand=touch%20pwned/x", "ssh://git@-oProxyCommand=touch/x"])
def test_hosts_that_would_be_options_are_refused(tmp_path, url):
    (tmp_path / "s.yaml").write_text(GOOD.replace("file:///nonexistent/", f"'{url}'"))
    out = cli("lock", "s.yaml", cwd=tmp_path)
    assert out.code == 2 and "s.yaml:4:8: " in out.stderr and "host starting with '-'" in out.stderr, out.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]


def _on_a_terminal(args, cwd, env=None):
    """Run the real stream-build with standard error on a pseudo-terminal; return (code, stdout, terminal text)."""
    import os
    import pty
    import subprocess
    import sys
    import threading

    main, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "streambuild.cli", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=secondary, env={**os.environ, **(env or {})})
    os.close(secondary)
    chunks = []

    def drain():
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    stdout = proc.communicate(timeout=300)[0].decode()
    reader.join(timeout=10)
    os.close(main)
    return proc.returncode, stdout, b"".join(chunks).decode(errors="replace")


def test_progress_on_a_terminal_has_phases_logs_and_times_and_warnings_always_show(forge, tmp_path):
    m = forge.write_manifest(tmp_path / "stream-build.yaml")
    code, stdout, terminal = _on_a_terminal(["build", str(m)], tmp_path)
    assert code == 0, terminal
    for words in ("fetching the sources of 3 components", "analysing 3 specs", "backend: ", "… tinytorch building",
                  "    log: ", "/build.log", "✓ tinytorch done (", "published ", "\x1b[K"):
        assert words in terminal, words
    # a policy warning reaches the terminal (commit rights cannot be checked without a user)
    assert "stream-build: warning: " in terminal and "commit-rights" in terminal
    assert "3 built" in stdout and "stream repository:" in stdout  # the result on standard output
    quiet = cli("build", str(m))  # no terminal: no progress, but the warnings
    assert quiet.code == 0
    assert [line for line in quiet.stderr.splitlines() if not line.startswith("stream-build: warning: ")] == []
    assert "commit-rights" in quiet.stderr


# -- what subcommands import (fast start), --json errors, every problem of a manifest ----------------

#: Run the real command line in a fresh interpreter and report what it imported.
PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
from streambuild.cli import main
main(sys.argv[1:])
"""
HEAVY = ("streambuild.koji", "streambuild.targets.container", "streambuild.forges", "streambuild.forgeconfig",
         "streambuild.policy.acl", "koji", "pyrpkg", "requests")


def imported(*args: str, cwd: Path) -> tuple:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)
    line = [l for l in proc.stderr.splitlines() if l.startswith("MODULES ")][-1]
    return proc, set(json.loads(line[len("MODULES "):]))


def heavy(modules: set) -> list:
    return sorted(m for m in modules if m.startswith(HEAVY))


def test_help_imports_no_subcommand(tmp_path) -> None:
    proc, modules = imported("--help", cwd=tmp_path)
    assert proc.returncode == 0 and "install" in proc.stdout
    ours = sorted(m for m in modules if m.startswith("streambuild"))
    assert ours == ["streambuild", "streambuild.cli"], ours


def test_install_help_imports_only_the_install_command(tmp_path) -> None:
    proc, modules = imported("install", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "[PACKAGE]..." in proc.stdout
    assert not any(m.startswith(("streambuild.stream", "streambuild.plugins", "streambuild.build")) for m in modules)
    assert heavy(modules) == []


def test_the_install_path_imports_neither_koji_nor_containers_nor_forges(tmp_path) -> None:
    seed = (Path(__file__).parents[1] / "data" / "seed.yaml").read_text()
    (tmp_path / "stream-build.yaml").write_text(seed[: seed.index("install:")] +
                                                "install:\n  type: installroot\n  path: root\n  packages: [vllm]\n")
    proc, modules = imported("install", "-y", cwd=tmp_path)
    assert proc.returncode == 2 and "the stream has not been built yet" in proc.stderr
    assert "streambuild.stream" in modules and "streambuild.frontend" in modules  # it got as far as the install
    assert heavy(modules) == []
    # nor the policy rules, nor importlib.metadata when no distribution declares a plugin
    assert not any(m.startswith(("streambuild.policy", "importlib.metadata")) for m in modules)
    assert (tmp_path / ".stream-build").is_dir()  # its work directory: the manifest read is kept there from now on
    imported("install", "-y", cwd=tmp_path)
    proc, modules = imported("install", "-y", cwd=tmp_path)
    assert proc.returncode == 2 and "the stream has not been built yet" in proc.stderr
    assert not any(m == "yaml" or m.startswith(("yaml.", "streambuild.yamldoc")) for m in modules)


@pytest.mark.parametrize("args, code", [(["status", "--json"], 2), (["build", "--json", "--frobnicate"], 2)])
def test_json_errors_are_an_object_on_stdout(tmp_path, args, code) -> None:
    (tmp_path / "stream-build.yaml").write_text((Path(__file__).parents[1] / "data" / "seed.yaml").read_text())
    proc = subprocess.run([sys.executable, "-m", "streambuild.cli", *args], cwd=tmp_path, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == code
    error = json.loads(proc.stdout.strip().splitlines()[-1])
    assert error["event"] == "error" and error["exit_code"] == code and error["message"]
    assert "error" in proc.stderr.lower()  # and still said to a person


def test_every_problem_of_a_manifest_is_an_error_line_and_one_json_object(tmp_path) -> None:
    (tmp_path / "stream-build.yaml").write_text("base: fedora-44-x86_64\nbuild:\n- type: dist-gti\n  url: x\n"
                                                "  pakages: [a:b]\n")
    proc = subprocess.run([sys.executable, "-m", "streambuild.cli", "validate", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("stream-build: error: stream-build.yaml:3:9: build[0].type: 'dist-gti'")
    assert "(did you mean 'dist-git'?)" in lines[0]
    assert lines[1].startswith("stream-build: error: stream-build.yaml:5:3: build[0]: unknown key 'pakages' "
                               "(did you mean 'packages'? it is required)")
    error = json.loads(proc.stdout)
    assert error["error"] == "ManifestErrors" and len(error["problems"]) == 2
