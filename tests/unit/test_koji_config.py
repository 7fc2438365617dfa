"""Koji client profiles: koji's own reader, koji's file order and defaults, stream-build's keys on top."""

from __future__ import annotations

import koji
import pytest

from streambuild.errors import InputError
from streambuild.koji.config import KOJI_DEFAULTS, config_files, load_profile


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def layout(tmp_path):
    etc, home = tmp_path / "etc", tmp_path / "home"
    write(etc / "koji.conf.d" / "50-fedora.conf", "[koji]\nserver = https://other.example.org/kojihub\n"
          "topurl = https://kojipkgs.example.org\npoll_interval = 10\n")
    write(etc / "koji.conf", "[koji]\nserver = https://koji.example.org/kojihub\nweburl = https://koji.example.org/koji\n"
          "authtype = kerberos\n[stg]\nserver = https://stg.example.org/kojihub\nauthtype = noauth\n")
    write(home / ".koji" / "config", "[koji]\npoll_interval = 2\nstreambuild_target = f44-stream\n")
    return etc, home


def test_files_are_read_in_koji_read_config_order(layout):
    etc, home = layout
    files = config_files(etc=str(etc), home=str(home))
    assert files == [str(etc / "koji.conf.d"), str(etc / "koji.conf"), str(home / ".koji" / "config.d"),
                     str(home / ".koji" / "config")]
    profile = load_profile("koji", files=files)
    # /etc/koji.conf comes after /etc/koji.conf.d, as koji reads them: its server wins
    assert profile.server == "https://koji.example.org/kojihub"
    assert profile.topurl == "https://kojipkgs.example.org"  # set only in koji.conf.d
    assert profile.poll_interval == 2  # the user's file overrides both
    assert profile.authtype == "gssapi"  # koji's old name 'kerberos' means GSSAPI
    assert profile.target == "f44-stream"
    assert profile.task_url(12) == "https://koji.example.org/koji/taskinfo?taskID=12"
    assert load_profile("stg", files=files).task_url(3) == "task 3"  # no weburl: no link to localhost


def test_an_explicit_file_replaces_the_users_files_as_koji_c_does(layout, tmp_path):
    etc, home = layout
    extra = write(tmp_path / "extra.conf", "[koji]\nserver = http://127.0.0.1:9/kojihub\nauthtype = noauth\n")
    profile = load_profile("koji", files=config_files(str(extra), str(etc), str(home)), overrides={"target": "f45"})
    assert profile.server == "http://127.0.0.1:9/kojihub" and profile.authtype == "noauth"
    assert profile.poll_interval == 10  # ~/.koji/config is not read; /etc/koji.conf.d still is
    assert profile.target == "f45"
    assert str(extra) in profile.sources
    with pytest.raises(InputError, match="not found"):
        load_profile("koji", explicit=str(tmp_path / "missing.conf"), files=[])


def test_defaults_are_kojis(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    conf = write(tmp_path / "probe.conf", "[probe]\nserver = https://koji.example.org/kojihub\nauthtype = noauth\n")
    theirs = koji.read_config("probe", user_config=str(conf))
    assert {k: theirs[k] for k in KOJI_DEFAULTS if k != "authtype"} == {k: v for k, v in KOJI_DEFAULTS.items()
                                                                        if k != "authtype"}
    ours = load_profile("probe", files=config_files(str(conf), str(tmp_path / "no-etc"), str(tmp_path)))
    assert (ours.max_retries, ours.retry_interval, ours.poll_interval, ours.timeout) == (
        theirs["max_retries"], theirs["retry_interval"], theirs["poll_interval"], theirs["timeout"])


def test_stream_builds_keys_on_top(tmp_path):
    conf = write(tmp_path / "koji.conf", "[hub]\nserver = http://127.0.0.1:9/kojihub\nuser = alice\npassword = pw\n"
                 "poll_interval = 7\nstreambuild_poll_interval = 0.25\nstreambuild_retry_interval = 0.5\n")
    profile = load_profile("hub", files=[str(conf)])
    assert profile.authtype == "password"  # no authtype and a user: what koji's CLI would do
    assert (profile.user, profile.password) == ("alice", "pw")
    assert profile.poll_interval == 0.25 and profile.retry_interval == 0.5


@pytest.mark.parametrize("text, words", [
    ("[koji]\nweburl = https://x/koji\n", "has no 'server'"),
    ("[koji]\nserver = ftp://x/kojihub\n", "[koji] server"),
    ("[koji]\nserver = https://x/kojihub\nauthtype = telepathy\n", "'telepathy' is not one of"),
    ("[koji]\nserver = https://x/kojihub\nauthtype = password\nuser = me\n", "needs 'user' and 'password'"),
    ("[koji]\nserver = https://x/kojihub\npoll_interval = soon\n", "[koji] poll_interval: 'soon' is not a whole number"),
    ("[koji]\nserver = https://x/kojihub\npoll_interval = 2.5\n", "'2.5' is not a whole number (koji reads it as one)"),
    ("[koji]\nserver = https://x/kojihub\nno_ssl_verify = maybe\n", "is not a boolean"),
    ("[koji]\nserver = https://x/kojihub\npassword = 100%\n", "koji profile 'koji'"),
    ("[koji\nserver = x\n", "not a valid koji configuration file"),
])
def test_mistakes_name_the_profile_key_and_files(tmp_path, text, words):
    conf = write(tmp_path / "koji.conf", text)
    with pytest.raises(InputError) as info:
        load_profile("koji", files=[str(conf)])
    assert words in str(info.value)


def test_missing_profile_lists_what_exists(layout):
    etc, home = layout
    with pytest.raises(InputError) as info:
        load_profile("nope", files=config_files(etc=str(etc), home=str(home)))
    assert "no koji profile 'nope'" in str(info.value) and "koji, stg" in str(info.value)


def test_unknown_backend_option_is_refused(layout):
    etc, home = layout
    with pytest.raises(InputError, match="unknown koji backend option"):
        load_profile("koji", files=config_files(etc=str(etc), home=str(home)), overrides={"sevrer": "typo"})


def test_profile_name_is_validated():
    with pytest.raises(InputError):
        load_profile("--evil", files=[])
