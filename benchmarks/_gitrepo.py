"""Bare git repositories written directly (loose objects, one branch), for benchmark set-up only.

Making 20,000 dist-git repositories with ``git init``/``add``/``commit``/``clone`` costs four
processes each (minutes); the repositories written here are the same on disk as those git
makes (zlib-compressed loose objects, a branch ref, ``HEAD``), and git serves them as any
other. What is timed never goes through this module: only the set-up does.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path
from typing import Mapping

_IDENT = b"bench <bench@example.invalid> 1700000000 +0000"


def _write_object(objects: Path, kind: bytes, body: bytes) -> bytes:
    data = kind + b" " + str(len(body)).encode() + b"\0" + body
    oid = hashlib.sha1(data).hexdigest()
    path = objects / oid[:2] / oid[2:]
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(zlib.compress(data, 1))
    return bytes.fromhex(oid)


def write_repo(path: Path, branch: str, files: Mapping[str, bytes], message: str = "s") -> str:
    """A bare repository at ``path`` with one commit of ``files`` (flat names) on ``branch``; its commit id."""
    objects = path / "objects"
    for sub in (objects / "info", objects / "pack", path / "refs" / "heads", path / "refs" / "tags"):
        sub.mkdir(parents=True, exist_ok=True)
    entries = b"".join(b"100644 " + name.encode() + b"\0" + _write_object(objects, b"blob", files[name])
                       for name in sorted(files))
    tree = _write_object(objects, b"tree", entries)
    commit = _write_object(objects, b"commit", b"tree " + tree.hex().encode() + b"\nauthor " + _IDENT
                           + b"\ncommitter " + _IDENT + b"\n\n" + message.encode() + b"\n")
    ref = path / "refs" / "heads" / branch
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit.hex() + "\n")
    (path / "HEAD").write_text(f"ref: refs/heads/{branch}\n")
    (path / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n")
    (path / "description").write_text("bench\n")
    os.utime(path)
    return commit.hex()
