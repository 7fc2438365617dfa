"""Opt-in: the hub plugin and the client against a REAL Koji hub (set ``KOJI_SRC``).

``KOJI_SRC`` names a Koji source tree (``git clone https://pagure.io/koji.git``). The test
makes a PostgreSQL cluster in a temporary directory, loads ``$KOJI_SRC/schemas/schema.sql``,
and serves the hub's own WSGI application (``kojihub.kojixmlrpc.application``) on loopback
with this work tree's ``koji_hub_plugin/streambuild_hub.py`` enabled, then exercises
``streambuild.submit/status/list/cancel``, the policy tests in the real hub's policy engine,
the stream tag, its target and external repo as kojihub stores them, and the client's
``--nowait`` submit. No kojid runs: builds are not exercised here (see docs/koji.md).

Needs: PostgreSQL's server binaries (Debian ``postgresql``), psycopg2 (``python3-psycopg2``),
rpm's Python bindings; run as root, the cluster runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import koji
import pytest

from conftest import Result
from kojihub import free_port

KOJI_SRC = os.environ.get("KOJI_SRC")
ROOT = Path(__file__).resolve().parents[2]
PG_BIN = (glob.glob("/usr/lib/postgresql/*/bin") or [""])[-1]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not KOJI_SRC, reason="opt-in: set KOJI_SRC to a Koji source tree (see docs/koji.md)"),
]

HUB_POLICY = """
[policy]
stream_build =
    stream_branch !! deny a component is not on a release-series branch
    all :: allow
channel =
    is_stream_build :: use default
    all :: use default
"""

SERVER = """
import io, os, sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server
from kojihub.kojixmlrpc import application

class Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True

def app(environ, start_response):
    # mod_wsgi ends wsgi.input at Content-Length; wsgiref gives the raw socket, which kojihub would read forever
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
    environ["koji.hub.ConfigFile"] = sys.argv[2]
    environ["koji.hub.ConfigDir"] = "/nonexistent"
    return application(environ, start_response)

make_server("127.0.0.1", int(sys.argv[1]), app, server_class=Threading).serve_forever()
"""


def _as_postgres(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture(scope="module")
def real_hub(tmp_path_factory):
    if not os.path.isfile(os.path.join(KOJI_SRC, "schemas", "schema.sql")):
        pytest.fail(f"KOJI_SRC={KOJI_SRC} is not a Koji source tree (no schemas/schema.sql)")
    if not PG_BIN:
        pytest.skip("PostgreSQL server binaries are missing (Debian: apt install postgresql)")
    pytest.importorskip("psycopg2")
    tmp = tmp_path_factory.mktemp("realhub")
    pg = Path(tempfile.mkdtemp(prefix="koji-pg-"))  # pytest's tmp is private to root; the cluster runs as postgres
    os.chmod(pg, 0o755)
    data, sock = pg / "pgdata", pg / "pgsock"
    sock.mkdir()
    if os.geteuid() == 0:
        for path in (pg, sock):
            shutil.chown(path, pwd.getpwnam("postgres").pw_uid)
    port = free_port()
    run = lambda *c: subprocess.run(_as_postgres(list(c)), check=True, capture_output=True, text=True)  # noqa: E731
    run(f"{PG_BIN}/initdb", "-D", str(data), "-U", "koji", "--auth=trust")
    run(f"{PG_BIN}/pg_ctl", "-D", str(data), "-l", str(pg / "pg.log"), "-w", "start",
        "-o", f"-k {sock} -p {port} -c listen_addresses=''")
    psql = [f"{PG_BIN}/psql", "-q", "-h", str(sock), "-p", str(port), "-U", "koji", "-v", "ON_ERROR_STOP=1"]
    try:
        run(f"{PG_BIN}/createdb", "-h", str(sock), "-p", str(port), "-U", "koji", "koji")
        shutil.copy(os.path.join(KOJI_SRC, "schemas", "schema.sql"), pg / "schema.sql")
        run(*psql, "-d", "koji", "-f", str(pg / "schema.sql"))
        sql = ("INSERT INTO users (name, password, status, usertype) VALUES "
               "('alice', 'alice-pw', 0, 0), ('bob', 'bob-pw', 0, 0), ('boss', 'boss-pw', 0, 0);"
               "INSERT INTO user_perms (user_id, perm_id, creator_id) SELECT u.id, p.id, u.id "
               "FROM users u, permissions p WHERE u.name = 'boss' AND p.name = 'admin';")
        run(*psql, "-d", "koji", "-c", sql)
        kojidir = tmp / "mnt-koji"
        for sub in ("work", "packages", "repos", "scratch", "repos-dist"):
            (kojidir / sub).mkdir(parents=True)
        conf = tmp / "hub.conf"
        conf.write_text(f"[hub]\nDBName = koji\nDBUser = koji\nDBHost = {sock}\nDBPort = {port}\nKojiDir = {kojidir}\n"
                        f"Plugins = streambuild_hub\nPluginPath = {ROOT / 'koji_hub_plugin'}\nCheckClientIP = False\n"
                        f"LoginCreatesUser = False\n{HUB_POLICY}")
        sb_conf = tmp / "streambuild.conf"
        sb_conf.write_text("[general]\nallowed_scm_hosts = 127.0.0.1:* src.fedoraproject.org\n"
                           "allowed_schemes = git http https\ntopurl = http://127.0.0.1:1/kojifiles\n")
        (tmp / "server.py").write_text(SERVER)
        hub_port = free_port()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([KOJI_SRC, str(ROOT / "core")]),
                   STREAMBUILD_HUB_CONFIG=str(sb_conf))
        log = open(tmp / "hub.log", "w")
        proc = subprocess.Popen([sys.executable, str(tmp / "server.py"), str(hub_port), str(conf)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{hub_port}/kojihub"
        deadline = time.time() + 30
        while True:
            try:
                koji.ClientSession(url, {"max_retries": 0}).getAPIVersion()
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError((tmp / "hub.log").read_text()[-3000:])
                time.sleep(0.3)
        boss = koji.ClientSession(url, {"user": "boss", "password": "boss-pw", "max_retries": 0})
        boss.login()
        boss.createTag("f44-build", arches="noarch")
        boss.createTag("f44")
        boss.createBuildTarget("f44", "f44-build", "f44")
        yield {"url": url, "tmp": tmp, "log": tmp / "hub.log"}
        proc.terminate()
        proc.wait(10)
        log.close()
    finally:
        subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(data), "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(pg, ignore_errors=True)


def session(hub, user):
    s = koji.ClientSession(hub["url"], {"user": user, "password": f"{user}-pw", "max_retries": 0})
    s.login()
    return s


def lock(branch="release-1.0", commit="a" * 40):
    return {"version": 1, "base": "fedora-44-x86_64", "components": [
        {"name": "tiny-a", "type": "dist-git", "url": "https://src.fedoraproject.org/rpms/tiny-a.git", "ref": branch,
         "resolved": f"refs/heads/{branch}", "commit": commit}]}


def opts(key="b" * 40):
    return {"idempotency_key": key, "stream": "real", "components": {"tiny-a": {"packages": ["tiny-a"]}}}


def test_plugin_calls_on_a_real_hub(real_hub):
    alice, bob = session(real_hub, "alice"), session(real_hub, "bob")
    assert "streambuild.submit" in alice.system.listMethods()
    task = alice.callMethod("streambuild.submit", lock(), "f44", opts())
    assert alice.callMethod("streambuild.submit", lock(), "f44", opts()) == task  # idempotent
    tag = alice.getTag(f"f44-build-stream-real-{'b' * 12}", strict=True)
    assert tag["extra"]["streambuild.task_id"] == task
    assert alice.getBuildTarget(tag["name"])["build_tag_name"] == tag["name"]
    (repo,) = alice.getTagExternalRepos(tag["id"])
    assert repo["url"].endswith(f"/work/tasks/{task % 10000}/{task}/repo/")
    with pytest.raises(koji.ActionNotAllowed, match="belongs to another user"):
        bob.callMethod("streambuild.submit", lock(), "f44", opts())
    with pytest.raises(koji.ActionNotAllowed, match="tiny-a: release-series-branch: branch f44"):
        alice.callMethod("streambuild.submit", lock("f44"), "f44", opts("c" * 40))
    with pytest.raises(koji.ParameterError, match="not a full commit id"):
        alice.callMethod("streambuild.submit", lock(commit="abc"), "f44", opts("d" * 40))
    status = alice.callMethod("streambuild.status", task)
    assert status["state"] == "FREE" and status["components"][0]["state"] == "waiting"
    assert [s["task_id"] for s in alice.callMethod("streambuild.list", "alice")] == [task]
    with pytest.raises(koji.ActionNotAllowed, match="neither its owner nor an admin"):
        bob.callMethod("streambuild.cancel", task)
    assert alice.callMethod("streambuild.cancel", task)["state"] == "CANCELED"


def test_client_submits_with_nowait(real_hub, forge, tmp_path, monkeypatch):
    from conftest import add_package, manifest, spec

    add_package(forge, "tiny-real", "release-1.0", {"tiny-real.spec": spec("tiny-real")})
    m = manifest(tmp_path / "s.yaml", forge, ["tiny-real:release-1.0"])
    conf = tmp_path / "koji.conf"
    conf.write_text(f"[koji]\nserver = {real_hub['url']}\nauthtype = password\nuser = alice\npassword = alice-pw\n"
                    "streambuild_target = f44\n")
    (tmp_path / "forges.toml").write_text("")
    env = dict(os.environ, STREAM_BUILD_KOJI_CONFIG=str(conf), STREAM_BUILD_CONFIG=str(tmp_path / "forges.toml"))
    proc = subprocess.run([sys.executable, "-m", "streambuild.cli", "koji", "build", str(m), "--nowait"],
                          capture_output=True, text=True, env=env, timeout=300)
    out = Result(proc.returncode, proc.stdout, proc.stderr)
    assert out.code == 0, out.stderr + real_hub["log"].read_text()[-2000:]
    state = json.loads((tmp_path / ".stream-build" / "koji.json").read_text())
    assert session(real_hub, "alice").getTaskInfo(state["task_id"])["method"] == "streamBuild"
