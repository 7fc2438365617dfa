"""What every front-end decides the same way: install choices, what the stream provides, releasever, labels' lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streambuild import frontend
from streambuild.errors import InputError, LockError
from streambuild.manifest import parse_manifest

SEED = (Path(__file__).parents[1] / "data" / "seed.yaml").read_text()
COMMIT_A, COMMIT_B = "a" * 40, "b" * 40


def manifest(install: str, tmp_path: Path):
    text = SEED[: SEED.index("install:")] + install
    return parse_manifest(text, str(tmp_path / "stream-build.yaml"))


def test_the_manifests_install_section_is_the_default(tmp_path) -> None:
    m = parse_manifest(SEED, str(tmp_path / "s.yaml"))
    assert frontend.choose_install(m) == frontend.InstallChoice("container", ("vllm",))
    assert frontend.choose_install(m, output="oci-archive:/tmp/x.tar").output == "oci-archive:/tmp/x.tar"
    named = frontend.choose_install(m, ["python3.11"], target="host")
    assert (named.target, named.packages) == ("host", ("python3.11",))


def test_installroot_on_the_command_line_wins(tmp_path) -> None:
    m = parse_manifest(SEED, str(tmp_path / "s.yaml"))
    choice = frontend.choose_install(m, installroot="relative/root")
    assert choice.target == "installroot" and choice.installroot == str(Path("relative/root").resolve())
    path = manifest("install: {type: installroot, path: inst, packages: [vllm]}\n", tmp_path)
    assert frontend.choose_install(path).installroot == str(tmp_path / "inst")


@pytest.mark.parametrize("install, kwargs, words", [
    ("install: {type: host, packages: [vllm]}\n", {"output": "oci-archive:/x"}, "--output only applies to the container"),
    ("install: {type: container, base_image: f, tag: t, packages: [vllm]}\n",
     {"installroot": "/r", "output": "oci-archive:/x"}, "--output only applies to the container target"),
    ("install: {type: host, packages: [vllm]}\n", {"installroot": "/r", "target": "container"},
     "--installroot only applies to the installroot target"),
    ("install: {type: installroot, packages: [vllm]}\n", {}, "needs --installroot DIR or install.path"),
    ("install: {type: host, packages: [vllm]}\n", {"packages": ["-rf"]}, "package name '-rf' is not valid"),
])
def test_contradictions_are_refused(tmp_path, install, kwargs, words) -> None:
    with pytest.raises(InputError, match=words):
        frontend.choose_install(manifest(install, tmp_path), **kwargs)


def test_nothing_to_install(tmp_path) -> None:
    m = parse_manifest(SEED[: SEED.index("install:")], str(tmp_path / "s.yaml"))
    with pytest.raises(InputError, match="nothing to install"):
        frontend.choose_install(m)


def published(tmp_path: Path, *rpms: str) -> Path:
    repo = tmp_path / "repo"
    (repo / "repodata").mkdir(parents=True)
    (repo / "repodata" / "repomd.xml").write_text("<repomd/>")
    for name in rpms:
        (repo / name).write_bytes(b"")
    return repo


def test_what_the_stream_provides_comes_from_its_repository(tmp_path) -> None:
    repo = published(tmp_path, "tinytorch-2.11.0-1.fc44.noarch.rpm", "tinytorch-devel-2.11.0-1.fc44.noarch.rpm",
                     "python3.11-3.11.9-1.fc44.x86_64.rpm")
    assert frontend.stream_packages(str(repo)) == {
        "python3.11": ["python3.11-3.11.9-1.fc44.x86_64.rpm"],
        "tinytorch": ["tinytorch-2.11.0-1.fc44.noarch.rpm"],
        "tinytorch-devel": ["tinytorch-devel-2.11.0-1.fc44.noarch.rpm"],
    }
    frontend.check_provided(str(repo), ["tinytorch", "python3.11"])
    with pytest.raises(InputError) as err:
        frontend.check_provided(str(repo), ["tinytorch", "vllm", "bo-tool"])
    assert str(err.value) == ("package 'vllm' is not provided by the stream; package 'bo-tool' is not provided by the "
                              "stream (it provides: python3.11, tinytorch, tinytorch-devel)")


def test_a_stream_not_built_provides_nothing(tmp_path) -> None:
    with pytest.raises(InputError, match="the stream has not been built yet"):
        frontend.check_provided(str(tmp_path / "no-repo"), ["vllm"])


def test_releasever_is_the_bases_and_an_explicit_one_must_match(tmp_path) -> None:
    m = parse_manifest(SEED, str(tmp_path / "s.yaml"))
    assert frontend.releasever_for(m, None) == "44"
    assert frontend.releasever_for(m, "44") == "44"
    with pytest.raises(InputError, match="--releasever=43 does not match the stream's base fedora-44-x86_64"):
        frontend.releasever_for(m, "43")


def _lock(commit: str) -> dict:
    return {"version": 1, "base": "fedora-44-x86_64", "components": [
        {"name": "vllm", "type": "git", "url": "https://github.com/vllm-project/vllm", "ref": "v1",
         "resolved": "refs/tags/v1", "commit": commit}]}


def test_the_lock_of_the_last_good_build_labels_the_image(tmp_path) -> None:
    journal = tmp_path / "journal.jsonl"
    lock_file = tmp_path / "s.lock"
    lock_file.write_text(json.dumps(_lock(COMMIT_B)))
    records = [
        {"event": "run-start", "run": "r1", "lock": _lock(COMMIT_A)},
        {"event": "run-end", "run": "r1", "outcome": "ok"},
        {"event": "run-start", "run": "r2", "lock": _lock(COMMIT_B)},
        {"event": "run-end", "run": "r2", "outcome": "failed"},
    ]
    journal.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert frontend.built_lock(str(journal), str(lock_file)).component("vllm").commit == COMMIT_A
    # no successful build in the journal: the lock file
    assert frontend.built_lock(str(tmp_path / "none.jsonl"), str(lock_file)).component("vllm").commit == COMMIT_B
    with pytest.raises(LockError, match="lock file not found"):
        frontend.built_lock(str(tmp_path / "none.jsonl"), str(tmp_path / "missing.lock"))


def test_install_outcome_lines_and_json(tmp_path) -> None:
    choice = frontend.InstallChoice("installroot", ("a",), "/r")
    outcome = frontend.InstallOutcome(choice, ("a-1-1.noarch",))
    assert outcome.lines() == ["installed 1 packages into /r:", "  a-1-1.noarch"]
    assert outcome.to_json() == {"event": "install-summary", "target": "installroot", "installroot": "/r",
                                 "installed": ["a-1-1.noarch"]}
    assert frontend.InstallOutcome(choice, ()).lines() == ["nothing to install: a already installed into /r"]
