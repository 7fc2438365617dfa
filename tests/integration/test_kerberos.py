"""GSSAPI login against a real MIT KDC on loopback.

The test starts ``krb5kdc`` with a fresh realm, makes principals and keytabs with
``kadmin.local``; the client logs in through koji's ``gssapi_login`` (requests-gssapi)
over HTTPS, and the test hub verifies the SPNEGO token with python-gssapi against the
service keytab before ``sslLogin`` maps the principal to a Koji user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kojihub
from conftest import Result
from kojihub.kdc import KDC, have_kdc, self_signed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not have_kdc(), reason="needs an MIT KDC (Debian: krb5-kdc krb5-admin-server krb5-user)"),
]


@pytest.fixture
def realm(tmp_path, monkeypatch):
    with KDC(tmp_path / "kdc") as kdc:
        for key, value in kdc.env().items():
            monkeypatch.setenv(key, value)  # the hub's acceptor (python-gssapi) reads the realm config too
        for name in ("alice", "mallory", "HTTP/localhost"):
            kdc.add_principal(name)
        yield kdc


def login(hub, kdc, tmp_path: Path, who: str, keytab: Path, principal: str) -> Result:
    extra = f"principal = {principal}\nkeytab = {keytab}\n"
    profile = hub.profile(tmp_path / f"{who}.conf", who, authtype="gssapi", extra=extra)
    env = dict(os.environ, STREAM_BUILD_KOJI_CONFIG=str(profile), KRB5CCNAME=f"FILE:{tmp_path / who}.ccache", **kdc.env())
    proc = subprocess.run([sys.executable, "-m", "streambuild.cli", "koji", "list", "--json"], capture_output=True,
                          text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


def test_gssapi_login_with_a_keytab_and_refusals(realm, tmp_path):
    service = realm.keytab("HTTP/localhost", tmp_path / "http.keytab")
    alice = realm.keytab("alice", tmp_path / "alice.keytab")
    mallory = realm.keytab("mallory", tmp_path / "mallory.keytab")
    tls = self_signed(tmp_path)
    with kojihub.TestHub(tmp_path / "hub", tls=tls, keytab=str(service), host="localhost", builder=False) as hub:
        hub.add_user("alice", principal=f"alice@{realm.realm}")
        ok = login(hub, realm, tmp_path, "alice", alice, f"alice@{realm.realm}")
        assert ok.code == 0, ok.stderr
        assert json.loads(ok.stdout) == []
        sessions = list(hub.hub.sessions.values())
        assert [(hub.hub.users[s["user_id"]]["name"], s["authtype"]) for s in sessions] == [("alice", 3)]  # GSSAPI
        assert hub.http_requests("alice") >= 3  # getLoggedInUser, listMethods, streambuild.list as alice

        # a principal the KDC knows but the hub does not: refused by sslLogin
        stranger = login(hub, realm, tmp_path, "mallory", mallory, f"mallory@{realm.realm}")
        assert stranger.code == 4
        assert "gssapi login failed" in stranger.stderr and f"Unknown Kerberos principal: mallory@{realm.realm}" in stranger.stderr

        # a wrong principal for the keytab: no ticket, so no token reaches the hub
        wrong = login(hub, realm, tmp_path, "mallory2", mallory, f"alice@{realm.realm}")
        assert wrong.code == 4 and "gssapi login failed" in wrong.stderr
        assert len(hub.hub.sessions) == 1  # only alice ever got a session


def test_a_token_for_another_service_is_refused(realm, tmp_path):
    realm.add_principal("HTTP/elsewhere")
    other_service = realm.keytab("HTTP/elsewhere", tmp_path / "elsewhere.keytab")  # the hub holds the wrong key
    alice = realm.keytab("alice", tmp_path / "alice.keytab")
    tls = self_signed(tmp_path)
    with kojihub.TestHub(tmp_path / "hub", tls=tls, keytab=str(other_service), host="localhost", builder=False) as hub:
        hub.add_user("alice", principal=f"alice@{realm.realm}")
        out = login(hub, realm, tmp_path, "alice", alice, f"alice@{realm.realm}")
        assert out.code == 4 and "gssapi login failed" in out.stderr
        assert hub.hub.sessions == {}
        assert any(e.startswith("gssapi:") for e in hub.server.server_errors)
        hub.server.server_errors.clear()
