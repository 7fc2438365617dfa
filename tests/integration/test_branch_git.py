"""The ``git`` forge on the example's local dist-git: real git daemon, real pushes, real upstream tags."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Dict

import pytest

from conftest import add_package, cli, manifest, spec

pytestmark = pytest.mark.integration


def heads(bare: Path) -> Dict[str, str]:
    out = subprocess.run(["git", "--git-dir", str(bare), "for-each-ref", "--format=%(refname:short) %(objectname)",
                          "refs/heads/"], check=True, capture_output=True, text=True).stdout
    return dict(line.split() for line in out.splitlines())


@pytest.fixture
def site(forge, tmp_path):
    """The example forge, an upstream 'tinytorch' with release tags, and a config whose git forge pushes to it."""
    add_package(forge, "tinytorch", "main", {"README": "tiny torch\n"}, namespace="upstream")
    bare = forge.layout.repo("tinytorch", "upstream")
    for tag in ("v2.10.0", "v2.11.0", "v2.12.0"):
        subprocess.run(["git", "--git-dir", str(bare), "tag", tag, "main"], check=True)
    config = tmp_path / "forges.toml"
    config.write_text(
        'default_forge = "git"\n'
        f'[forges.git]\ntype = "git"\ndist_git = "{forge.distgit_url}"\n'
        f'push_url = "file://{forge.layout.git_root}/rpms/"\n'  # the daemon is read-only, like anonymous dist-git
    )
    return forge, config, f"{forge.upstream_url}tinytorch"


def test_creates_a_missing_release_series_branch_and_stream_build_can_use_it(site, tmp_path):
    forge, config, upstream = site
    dist_git = forge.layout.repo("tinytorch")
    before = heads(dist_git)
    out = cli("branch", "request", "tinytorch", "release-2.12", "--config", str(config), "--upstream", upstream, "--json")
    assert out.code == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["state"] == "created" and result["forge"] == "git"
    after = heads(dist_git)
    assert after.pop("release-2.12") == before["rawhide"] == result["commit"]  # from the default branch (HEAD)
    assert after == before  # nothing else moved
    # the new branch is a normal dist-git branch: a stream can lock it and passes the naming rule
    m = manifest(tmp_path / "s.yaml", forge, ["tinytorch:release-2.12"])
    assert cli("lock", str(m)).code == 0
    assert result["commit"] in (tmp_path / "s.lock").read_text()


def test_start_point_and_idempotent_re_request(site):
    forge, config, upstream = site
    dist_git = forge.layout.repo("tinytorch")
    out = cli("branch", "request", "tinytorch", "2.12", "--config", str(config), "--upstream", upstream,
              "--from", "release-2.11")
    assert out.code == 0, out.stderr
    assert "created branch release-2.12 of tinytorch" in out.stdout and "(from release-2.11)" in out.stdout
    refs = heads(dist_git)
    assert refs["release-2.12"] == refs["release-2.11"]
    again = cli("branch", "request", "tinytorch", "release-2.12", "--config", str(config), "--upstream", upstream,
                "--from", "rawhide", "--json")
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["state"] == "exists"
    assert heads(dist_git) == refs  # not moved to rawhide


def test_refuses_a_bogus_series_saying_what_it_looked_for_and_found(site):
    forge, config, upstream = site
    before = heads(forge.layout.repo("tinytorch"))
    out = cli("branch", "request", "tinytorch", "release-9.99", "--config", str(config), "--upstream", upstream)
    assert out.code == 2
    assert f"upstream {upstream} has no release of series 9.99" in out.stderr
    assert "looked for tags or branches naming version 9.99 or 9.99.*" in out.stderr
    assert "found series: 2.12, 2.11, 2.10" in out.stderr
    assert heads(forge.layout.repo("tinytorch")) == before


@pytest.mark.parametrize("series", ["f44", "rawhide", "main"])
def test_refuses_fedora_branch_names(site, series):
    forge, config, upstream = site
    before = heads(forge.layout.repo("tinytorch"))
    out = cli("branch", "request", "tinytorch", series, "--config", str(config), "--upstream", upstream)
    assert out.code == 2 and "one of Fedora's own branch names" in out.stderr
    assert heads(forge.layout.repo("tinytorch")) == before


@pytest.mark.parametrize("name, series, words", [
    ("--upload-pack=touch PWNED", "release-2.12", "is not valid"),
    ("tinytorch", "release-2.12:refs/heads/rawhide", "is not a valid git ref"),  # a refspec, not a branch
    ("tinytorch", "-f", "starts with '-'"),
    ("tinytorch", "release-2.12 --force", "is not a valid git ref"),
    ("tiny`id`torch", "release-2.12", "is not valid"),
])
def test_names_and_series_with_shell_or_git_option_characters(site, tmp_path, name, series, words):
    forge, config, upstream = site
    before = heads(forge.layout.repo("tinytorch"))
    out = cli("branch", "request", "--config", str(config), "--upstream", upstream, "--", name, series, cwd=tmp_path)
    assert out.code == 2 and words in out.stderr
    assert heads(forge.layout.repo("tinytorch")) == before
    assert not (tmp_path / "PWNED").exists()


def test_bad_start_point_and_urls(site):
    forge, config, upstream = site
    out = cli("branch", "request", "tinytorch", "release-2.12", "--config", str(config), "--upstream", upstream,
              "--from", "no-such-branch")
    assert out.code == 2 and "start point" in out.stderr and "no branch or tag 'no-such-branch'" in out.stderr
    out = cli("branch", "request", "tinytorch", "release-2.12", "--config", str(config), "--upstream", "ext::sh -c id")
    assert out.code == 2 and "upstream URL" in out.stderr
    out = cli("branch", "request", "tinytorch", "release-2.12", "--config", str(config), "--dist-git", "-oProxyCommand=x")
    assert out.code == 2 and "--dist-git" in out.stderr
    assert "release-2.12" not in heads(forge.layout.repo("tinytorch"))


def test_a_package_that_does_not_exist(site):
    forge, config, upstream = site
    out = cli("branch", "request", "no-such-package", "release-2.12", "--config", str(config), "--upstream", upstream)
    assert out.code == 2
    assert "package 'no-such-package': no dist-git repository can be read at" in out.stderr


def test_upstream_found_from_the_spec(site, tmp_path):
    forge, config, upstream = site
    add_package(forge, "specfind", "rawhide", {"specfind.spec": spec("specfind").replace(
        "License: MIT", f"License: MIT\nURL: {upstream}")})
    out = cli("branch", "request", "specfind", "release-2.11", "--config", str(config), "--from", "rawhide", "--json")
    assert out.code == 0, out.stderr
    assert json.loads(out.stdout)["state"] == "created"
    bogus = cli("branch", "request", "specfind", "release-3.0", "--config", str(config), "--from", "rawhide")
    assert bogus.code == 2 and f"upstream {upstream} has no release of series 3.0" in bogus.stderr


def test_dry_run_pushes_nothing(site):
    forge, config, upstream = site
    before = heads(forge.layout.repo("tinytorch"))
    out = cli("branch", "request", "tinytorch", "release-2.12", "--config", str(config), "--upstream", upstream,
              "--dry-run", "--json")
    assert out.code == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["state"] == "dry-run"
    command = result["request"]["command"]
    assert command[:4] == ["git", "push", "--porcelain", "--force-with-lease=refs/heads/release-2.12:"]
    assert command[-1] == f"{before['rawhide']}:refs/heads/release-2.12"
    assert heads(forge.layout.repo("tinytorch")) == before


def test_a_push_the_server_refuses(site, tmp_path):
    forge, _, upstream = site
    read_only = tmp_path / "ro.toml"
    read_only.write_text(f'[forges.git]\ntype = "git"\ndist_git = "{forge.distgit_url}"\n')  # push to git://: refused
    out = cli("branch", "request", "tinytorch", "release-2.12", "--forge", "git", "--config", str(read_only),
              "--upstream", upstream)
    assert out.code == 2 and "cannot create branch release-2.12 of tinytorch" in out.stderr
    assert "release-2.12" not in heads(forge.layout.repo("tinytorch"))


def test_list_and_status(site):
    forge, config, upstream = site
    listed = cli("branch", "list", "tinypython3.11", "--config", str(config))
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("release-3.12") and "series 3.12" in lines[0]
    assert lines[1].startswith("release-3.11") and lines[-1].startswith("rawhide")
    missing = cli("branch", "status", "tinytorch", "release-2.12", "--config", str(config), "--nowait")
    assert missing.code == 1 and "has no branch release-2.12 and no open request" in missing.stdout + missing.stderr
    assert cli("branch", "request", "tinytorch", "release-2.12", "--config", str(config), "--upstream",
               upstream).code == 0
    present = cli("branch", "status", "tinytorch", "release-2.12", "--config", str(config), "--json")
    assert present.code == 0 and json.loads(present.stdout)["state"] == "exists"
