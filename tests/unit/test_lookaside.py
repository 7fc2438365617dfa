from __future__ import annotations

import hashlib
import http.server
import socketserver
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from streambuild import lookaside
from streambuild.errors import DownloadError, InputError, SourceError, UnsafeValueError
from streambuild.http import DownloadLimits


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
    stored = root / "pkg" / "f.tar" / ("0" * 32) / "f.tar"  # md5: Fedora's old layout, no hash type
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"not what the sources file says")
    with pytest.raises(SourceError, match="has md5 .* but the sources file says 0{32}"):
        lookaside.fetch(entry, "pkg", url, str(tmp_path / "cache"), str(tmp_path))
    with pytest.raises(SourceError, match="answered 404"):
        lookaside.fetch(lookaside.SourceFile("g.tar", "md5", "1" * 32), "pkg", url, str(tmp_path / "cache"), str(tmp_path))
    assert not list((tmp_path / "cache").rglob("*.tar*")) if (tmp_path / "cache").exists() else True


class _Hostile(socketserver.BaseRequestHandler):
    """Loopback HTTP servers that misbehave as a flaky or hostile network does."""

    def handle(self) -> None:  # noqa: C901 - one branch per behaviour
        stop: threading.Event = self.server.stop  # type: ignore[attr-defined]
        mode: str = self.server.mode  # type: ignore[attr-defined]
        self.request.recv(65536)
        send = self.request.sendall
        try:
            if mode == "silent":
                stop.wait(60)
            elif mode == "drip-headers":
                for char in b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789":
                    if stop.wait(0.3):
                        return
                    send(bytes([char]))
            elif mode == "drip":
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                while not stop.wait(0.3):
                    send(b"x")
            elif mode == "huge":
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
                stop.wait(60)
            elif mode == "endless":
                send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                block = b"y" * 65536
                while not stop.is_set():
                    send(block)
        except OSError:
            pass  # the client hung up, as it should


@pytest.fixture
def hostile():
    servers = []

    def start(mode: str) -> str:
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Hostile)
        server.daemon_threads = True
        server.stop = threading.Event()  # type: ignore[attr-defined]
        server.mode = mode  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.stop.set()
        server.shutdown()
        server.server_close()


FAST = DownloadLimits(deadline=1.0, min_rate=1000, max_bytes=1 << 20, read_timeout=5.0)


@pytest.mark.parametrize("mode", ["drip", "drip-headers", "silent"])
def test_a_dripping_or_silent_server_fails_at_the_deadline_naming_the_file(hostile, tmp_path: Path, mode: str) -> None:
    entry = lookaside.SourceFile("slow.tar", "sha512", "a" * 128)
    cache = tmp_path / "cache"
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"pkg: slow.tar from http://127.0.0.1:\d+/pkg/slow.tar/.* took longer than "
                                            r"allowed: \d+ bytes in 1\.\d s"):
        lookaside._download(entry.url(hostile(mode), "pkg"), entry, "pkg", str(cache / "x" / "slow.tar"), FAST)
    assert time.monotonic() - start < 3  # 1 s, plus at most a quarter of a second and a few bytes
    assert list(cache.rglob("*")) == [cache / "x"]  # no .part file left


def test_the_default_deadline_is_within_two_minutes() -> None:
    limits = DownloadLimits()
    assert limits.allowed(1000) < 120 and limits.max_bytes == 1 << 30


def test_a_declared_size_over_the_cap_is_refused_before_reading(hostile, tmp_path: Path) -> None:
    entry = lookaside.SourceFile("big.tar", "sha512", "a" * 128)
    with pytest.raises(DownloadError, match=r"big.tar from .* is 1000000000000 bytes \(Content-Length\), more than "
                                            r"the 1048576 allowed \(STREAM_BUILD_DOWNLOAD_MAX_BYTES"):
        lookaside._download(entry.url(hostile("huge"), "pkg"), entry, "pkg", str(tmp_path / "big.tar"), FAST)
    assert list(tmp_path.iterdir()) == []


def test_an_endless_body_is_cut_at_the_cap(hostile, tmp_path: Path) -> None:
    entry = lookaside.SourceFile("endless.tar", "sha512", "a" * 128)
    limits = DownloadLimits(deadline=30, max_bytes=1 << 20)
    with pytest.raises(DownloadError, match=r"endless.tar from .* sent more than the 1048576 bytes allowed"):
        lookaside._download(entry.url(hostile("endless"), "pkg"), entry, "pkg", str(tmp_path / "e.tar"), limits)
    assert list(tmp_path.iterdir()) == []


def test_limits_from_the_environment() -> None:
    limits = DownloadLimits.from_environment({"STREAM_BUILD_DOWNLOAD_DEADLINE": "2.5",
                                              "STREAM_BUILD_DOWNLOAD_MAX_BYTES": "100"})
    assert (limits.deadline, limits.max_bytes, limits.min_rate) == (2.5, 100, DownloadLimits().min_rate)
    for bad in ("-1", "soon", "nan"):
        with pytest.raises(InputError, match="STREAM_BUILD_DOWNLOAD_DEADLINE"):
            DownloadLimits.from_environment({"STREAM_BUILD_DOWNLOAD_DEADLINE": bad})


def test_a_steady_download_is_not_cut_by_the_deadline(server, tmp_path: Path) -> None:
    """The deadline grows with what arrives: a file that keeps coming finishes."""
    root, url = server
    data = bytes(range(256)) * 4096  # 1 MiB, served at loopback speed
    digest = hashlib.sha256(data).hexdigest()
    stored = root / "pkg" / "f.bin" / "sha256" / digest / "f.bin"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(data)
    entry = lookaside.SourceFile("f.bin", "sha256", digest)
    limits = DownloadLimits(deadline=0.0, min_rate=1, max_bytes=2 << 20)
    lookaside._download(entry.url(url, "pkg"), entry, "pkg", str(tmp_path / "f.bin"), limits)
    assert (tmp_path / "f.bin").read_bytes() == data
