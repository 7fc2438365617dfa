"""Koji client profiles: the koji CLI's files, order, keys and mistakes."""

from __future__ import annotations

import pytest

from streambuild.errors import InputError
from streambuild.koji.config import default_files, load_profile


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def layout(tmp_path):
    etc, home = tmp_path / "etc", tmp_path / "home"
    write(etc / "koji.conf", "[koji]\nserver = https://koji.example.org/kojihub\nweburl = https://koji.example.org/koji\n"
          "authtype = kerberos\n[stg]\nserver = https://stg.example.org/kojihub\n")
    write(etc / "koji.conf.d" / "50-fedora.conf", "[koji]\ntopurl = https://kojipkgs.example.org\npoll_interval = 10\n")
    write(home / ".koji" / "config", "[koji]\npoll_interval = 2\nstreambuild_target = f44-stream\n")
    return etc, home


def test_files_are_read_in_koji_cli_order_and_later_keys_win(layout):
    etc, home = layout
    files = default_files(home=str(home), etc=str(etc))
    assert files[0] == str(etc / "koji.conf") and files[-1] == str(home / ".koji" / "config")
    profile = load_profile("koji", files=files)
    assert profile.server == "https://koji.example.org/kojihub"
    assert profile.topurl == "https://kojipkgs.example.org"
    assert profile.poll_interval == 2.0  # the user's file overrides /etc/koji.conf.d
    assert profile.authtype == "gssapi"  # koji's old name 'kerberos' means GSSAPI
    assert profile.target == "f44-stream"
    assert profile.task_url(12) == "https://koji.example.org/koji/taskinfo?taskID=12"
    assert load_profile("stg", files=files).task_url(3) == "task 3"


def test_explicit_file_and_overrides_win(layout, tmp_path):
    etc, home = layout
    extra = write(tmp_path / "extra.conf", "[koji]\nserver = http://127.0.0.1:9/kojihub\nauthtype = noauth\n")
    profile = load_profile("koji", explicit=str(extra), files=default_files(str(home), str(etc)),
                           overrides={"target": "f45"})
    assert profile.server == "http://127.0.0.1:9/kojihub" and profile.authtype == "noauth"
    assert profile.target == "f45"
    assert str(extra) in profile.sources


@pytest.mark.parametrize("text, words", [
    ("[koji]\nweburl = https://x/koji\n", "has no 'server'"),
    ("[koji]\nserver = ftp://x/kojihub\n", "[koji] server"),
    ("[koji]\nserver = https://x/kojihub\nauthtype = telepathy\n", "'telepathy' is not one of"),
    ("[koji]\nserver = https://x/kojihub\nauthtype = password\nuser = me\n", "needs 'user' and 'password'"),
    ("[koji]\nserver = https://x/kojihub\npoll_interval = soon\n", "[koji] poll_interval: 'soon' is not a number"),
    ("[koji]\nserver = https://x/kojihub\nno_ssl_verify = maybe\n", "is not a boolean"),
    ("[koji\nserver = x\n", "not a valid koji configuration file"),
])
def test_mistakes_name_the_file_and_key(tmp_path, text, words):
    conf = write(tmp_path / "koji.conf", text)
    with pytest.raises(InputError) as info:
        load_profile("koji", files=[str(conf)])
    assert words in str(info.value)
    assert str(conf) in str(info.value) or "koji profile" in str(info.value)


def test_missing_profile_lists_what_exists(layout):
    etc, home = layout
    with pytest.raises(InputError) as info:
        load_profile("nope", files=default_files(str(home), str(etc)))
    assert "no koji profile 'nope'" in str(info.value) and "koji, stg" in str(info.value)


def test_unknown_backend_option_is_refused(layout):
    etc, home = layout
    with pytest.raises(InputError, match="unknown koji backend option"):
        load_profile("koji", files=default_files(str(home), str(etc)), overrides={"sevrer": "typo"})


def test_profile_name_is_validated():
    with pytest.raises(InputError):
        load_profile("--evil", files=[])
