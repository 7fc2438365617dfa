"""A real MIT Kerberos KDC on loopback for tests, and a self-signed TLS certificate.

The KDC's database, krb5.conf and kdc.conf live in a temporary directory; ``krb5kdc -n``
runs in the foreground on free ports and is stopped (by its pid) afterwards. Keytabs
are written with ``kadmin.local ktadd``. Processes that should use this realm get
``KRB5_CONFIG`` (and ``KRB5_KDC_PROFILE``) from :meth:`KDC.env`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, Optional

REALM = "STREAMBUILD.TEST"
TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local")


def have_kdc() -> bool:
    return all(shutil.which(t) or os.path.exists(f"/usr/sbin/{t}") for t in TOOLS)


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class KDC:
    """``with KDC(tmp) as kdc: kdc.add_principal("alice"); kdc.keytab("alice", path)``."""

    def __init__(self, root: Path, realm: str = REALM) -> None:
        self.root = Path(root)
        self.realm = realm
        self.port = _free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.krb5_conf = self.root / "krb5.conf"
        self.kdc_conf = self.root / "kdc.conf"

    def env(self) -> Dict[str, str]:
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5_KDC_PROFILE": str(self.kdc_conf),
                "KRB5_TRACE": str(self.root / "trace.log")}

    def _run(self, *cmd: str) -> str:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, env={**os.environ, **self.env()}, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def start(self) -> "KDC":
        self.root.mkdir(parents=True, exist_ok=True)
        db = self.root / "principal"
        self.krb5_conf.write_text(f"""[libdefaults]
    default_realm = {self.realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    ignore_acceptor_hostname = true
[realms]
    {self.realm} = {{
        kdc = 127.0.0.1:{self.port}
    }}
[domain_realm]
    localhost = {self.realm}
    127.0.0.1 = {self.realm}
""")
        self.kdc_conf.write_text(f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{self.port}
    kdc_tcp_listen = 127.0.0.1:{self.port}
[realms]
    {self.realm} = {{
        database_name = {db}
        key_stash_file = {self.root / 'stash'}
        acl_file = {self.root / 'kadm5.acl'}
        kdc_listen = 127.0.0.1:{self.port}
        kdc_tcp_listen = 127.0.0.1:{self.port}
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}
[logging]
    kdc = FILE:{self.root / 'kdc.log'}
""")
        (self.root / "kadm5.acl").write_text("")
        self._run(_tool("kdb5_util"), "create", "-s", "-r", self.realm, "-P", "master-" + os.urandom(8).hex())
        self.proc = subprocess.Popen([_tool("krb5kdc"), "-n", "-r", self.realm], env={**os.environ, **self.env()},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"krb5kdc exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        raise RuntimeError("krb5kdc did not start listening")

    def add_principal(self, name: str) -> str:
        """Add ``name`` (with a random key) and return the full principal."""
        principal = f"{name}@{self.realm}"
        self._run(_tool("kadmin.local"), "-r", self.realm, "-q", f"addprinc -randkey {principal}")
        return principal

    def keytab(self, name: str, path: Path) -> Path:
        """Write ``name``'s keys into a keytab (``ktadd`` makes new keys: the old keytab is stale)."""
        self._run(_tool("kadmin.local"), "-r", self.realm, "-q", f"ktadd -k {path} {name}@{self.realm}")
        return path

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()

    def __enter__(self) -> "KDC":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def self_signed(root: Path, host: str = "localhost") -> tuple:
    """A certificate and key for ``host`` (and 127.0.0.1), made with openssl; (cert, key) paths."""
    cert, key = root / "hub.crt", root / "hub.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={host}",
                    "-addext", f"subjectAltName=DNS:{host},IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)
