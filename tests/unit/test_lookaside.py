from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest

from streambuild import lookaside
from streambuild.errors import SourceError, UnsafeValueError


def test_both_sources_formats() -> None:
    text = f"SHA512 (Python-3.11.9.tar.xz) = {'a' * 128}\n\n{'b' * 32}  old-style.tar.gz\n"
    entries = lookaside.parse_sources(text)
    assert entries == [
        lookaside.SourceFile("Python-3.11.9.tar.xz", "sha512", "a" * 128),
        lookaside.SourceFile("old-style.tar.gz", "md5", "b" * 32),
    ]
    assert entries[0].url("https://src.fedoraproject.org/repo/pkgs/rpms/", "python3.11") == (
        f"https://src.fedoraproject.org/repo/pkgs/rpms/python3.11/Python-3.11.9.tar.xz/sha512/{'a' * 128}/Python-3.11.9.tar.xz"
    )


@pytest.mark.parametrize(
    "line, error",
    [
        ("SHA512 (x.tar) = abc", SourceError),
        ("what is this", SourceError),
        (f"SHA512 (../../etc/passwd) = {'a' * 128}", UnsafeValueError),
        (f"{'b' * 32}  .hidden", UnsafeValueError),
        (f"WHIRLPOOL (x) = {'a' * 128}", SourceError),
    ],
)
def test_bad_lines_name_the_line(line: str, error: type) -> None:
    with pytest.raises(error) as info:
        lookaside.parse_sources("\n" + line + "\n", "pkg:sources")
    assert "pkg:sources:2" in str(info.value)


@pytest.fixture
def server(tmp_path: Path):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "srv"))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    (tmp_path / "srv").mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield tmp_path / "srv", f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_download_verifies_and_caches(server, tmp_path: Path) -> None:
    root, url = server
    data = b"tarball bytes"
    digest = hashlib.sha512(data).hexdigest()
    stored = root / "pkg" / "f.tar" / "sha512" / digest / "f.tar"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(data)
    entry = lookaside.SourceFile("f.tar", "sha512", digest)
    dest = tmp_path / "dest"
    dest.mkdir()
    lookaside.fetch(entry, "pkg", url, str(tmp_path / "cache"), str(dest))
    assert (dest / "f.tar").read_bytes() == data
    stored.unlink()  # the second fetch comes from the cache
    lookaside.fetch(entry, "pkg", url, str(tmp_path / "cache"), str(dest))
    assert (dest / "f.tar").read_bytes() == data


def test_mismatch_and_missing_leave_nothing(server, tmp_path: Path) -> None:
    root, url = server
    entry = lookaside.SourceFile("f.tar", "md5", "0" * 32)
    stored = root / "pkg" / "f.tar" / "md5" / ("0" * 32) / "f.tar"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"not what the sources file says")
    with pytest.raises(SourceError, match="has md5 .* but the sources file says 0{32}"):
        lookaside.fetch(entry, "pkg", url, str(tmp_path / "cache"), str(tmp_path))
    with pytest.raises(SourceError, match="answered 404"):
        lookaside.fetch(lookaside.SourceFile("g.tar", "md5", "1" * 32), "pkg", url, str(tmp_path / "cache"), str(tmp_path))
    assert not list((tmp_path / "cache").rglob("*.tar*")) if (tmp_path / "cache").exists() else True
