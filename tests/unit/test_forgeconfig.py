"""The forges config file: Fedora's defaults, overrides, tokens from the environment, mistakes named."""

from __future__ import annotations

import re

import pytest

from streambuild import forgeconfig
from streambuild.errors import InputError, Location


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(forgeconfig.CONFIG_ENV, raising=False)


def write(tmp_path, text: str, name: str = "forges.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_defaults_are_fedoras_services(monkeypatch):
    monkeypatch.setattr(forgeconfig, "SYSTEM_CONFIG", "/nonexistent/forges.toml")
    config = forgeconfig.load()
    assert config.sources == ()
    pagure = config.forge()
    assert (pagure.name, pagure.url, pagure.requests_repo) == ("pagure", "https://pagure.io", "releng/fedora-scm-requests")
    assert pagure.dist_git_api == "https://src.fedoraproject.org"
    assert pagure.repo_url("python3.11") == "https://src.fedoraproject.org/rpms/python3.11.git"
    assert config.forge("forgejo").type == "forgejo" and config.forge("git").type == "git"
    assert config.policy.branch_template == "release-{series}"
    assert re.fullmatch(config.policy.series_pattern, "release-3.11")
    assert not re.fullmatch(config.policy.series_pattern, "release-3.11x")
    assert config.policy.advisory == {"release-series-branch"} and config.acl_source == "none"


def test_the_user_file_overrides_key_by_key(tmp_path, monkeypatch):
    user = tmp_path / "xdg" / "stream-build" / "forges.toml"
    user.parent.mkdir(parents=True)
    user.write_text('user = "jdoe"\n[forges.pagure]\nurl = "https://pagure.example"\n'
                    '[forges.mine]\ntype = "git"\ndist_git = "ssh://git.example/rpms"\nstart_point = "main"\n'
                    '[policy]\nbranch_template = "stream/{series}"\n[http]\nretries = 0\n')
    config = forgeconfig.load()
    assert config.sources == (str(user),) and config.user == "jdoe"
    pagure = config.forge("pagure")
    assert pagure.url == "https://pagure.example" and pagure.requests_repo == "releng/fedora-scm-requests"
    mine = config.forge("mine")
    assert mine.dist_git == "ssh://git.example/rpms/" and mine.start_point == "main"
    assert config.policy.series_pattern == r"stream/[0-9]+(\.[0-9]+)*"
    assert config.http.retries == 0 and config.http.backoff == 1.0
    # $STREAM_BUILD_CONFIG names one file instead
    monkeypatch.setenv(forgeconfig.CONFIG_ENV, write(tmp_path, 'default_forge = "git"\n', "other.toml"))
    assert forgeconfig.load().default_forge == "git" and forgeconfig.load().user is None


def test_tokens_come_from_the_environment_first(tmp_path, monkeypatch):
    config = forgeconfig.load(write(tmp_path, '[forges.pagure]\ntoken = "from-file"\ntoken_env = "MY_TOKEN"\n'))
    monkeypatch.delenv("MY_TOKEN", raising=False)
    assert config.forge("pagure").token_value() == "from-file"
    monkeypatch.setenv("MY_TOKEN", "from-env\n")
    assert config.forge("pagure").token_value() == "from-env"
    assert "from-file" not in repr(config.forge("pagure"))
    assert "$MY_TOKEN" in config.forge("pagure").token_hint()


@pytest.mark.parametrize("text, words", [
    ("surprise = 1\n", "unknown key 'surprise' in the config"),
    ("[forges.pagure]\nurl = 5\n", "forges.pagure.url must be a string"),
    ("[forges.pagure]\nurl = \"ext::sh -c id\"\n", "contains spaces, control or shell characters"),
    ("[forges.pagure]\nurl = \"ftp://x\"\n", "must use one of the schemes https, http"),
    ("[forges.new]\nurl = \"https://x\"\n", "forges.new needs a 'type'"),
    ("[forges.new]\ntype = \"Bad Type\"\n", "forges.new.type must name a forge type"),
    ("[forges.pagure]\nrequests_repo = \"a/b/c\"\n", "must be 'owner/repo'"),
    ("[forges.pagure]\ntoken_env = \"NOT-A-VAR\"\n", "is not an environment variable name"),
    ("[forges.git]\nstart_point = \"--force\"\n", "starts with '-'"),
    ("default_forge = \"nowhere\"\n", "default_forge 'nowhere' is not a configured forge"),
    ("[policy]\nbranch_template = \"release-\"\n", "must contain '{series}' once"),
    ("[policy]\nbranch_template = \"r;{series}\"\n", "may only use letters, digits"),
    ("[policy]\nadvisory = [1]\n", "policy.advisory must be a list of rule names"),
    ("[acl]\nsource = \"git\"\n", "is a plain git forge"),
    ("[acl]\nsource = \"elsewhere\"\n", "acl.source 'elsewhere' must be"),
    ("[http]\nretries = true\n", "http.retries must be an integer"),
    ("[http]\ntimeout = 0\n", "timeout must be positive"),
    ("user = \"j doe\"\n", "user 'j doe' is not valid"),
    ("[forges\n", "not valid TOML"),
])
def test_mistakes_name_the_file_and_the_key(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        forgeconfig.load(path)
    assert words in str(info.value) and path in str(info.value)


def test_a_missing_explicit_file(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        forgeconfig.load(str(tmp_path / "nope.toml"))


def test_dist_git_moves_every_dist_git_url_of_a_forge() -> None:
    from streambuild.forgeconfig import DEFAULTS, _forge, override

    pagure = _forge("pagure", DEFAULTS["forges"]["pagure"], Location("<defaults>"))
    moved = override(pagure, "https://src.example.org/rpms")
    assert (moved.dist_git, moved.dist_git_api, moved.url) == (
        "https://src.example.org/rpms/", "https://src.example.org", "https://pagure.io")
    git = _forge("git", {"type": "git", "dist_git": "ssh://a/rpms/", "push_url": "ssh://push/rpms/"}, Location("x"))
    assert (override(git, "git://b/rpms/").dist_git, override(git, "git://b/rpms/").push_url) == ("git://b/rpms/", None)
    assert override(pagure, forge_url="https://tickets.example.org/").url == "https://tickets.example.org"
    assert override(pagure) is pagure
