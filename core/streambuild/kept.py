"""What a run keeps in the work directory to skip work on the next (the last plan, the manifest as read).

Such a file is a cache, never a record: it is read back only under the digest of everything it was
made from, stream-build's own code included (:func:`code_digest`), and anything else in it is a
miss. It is written aside and moved into place without ``fsync`` (:func:`keep`); a write that
fails, a full disk or a read-only work directory, leaves the previous file or none and fails
nothing.
"""

from __future__ import annotations

import hashlib
import os
from typing import Dict, Sequence, Tuple

from .errors import DiskFull
from .workdir import atomic_write

_CODE: Dict[Tuple[str, ...], str] = {}


def code_digest(modules: Sequence[str]) -> str:
    """The digest of the source of stream-build's ``modules`` (file names beside this one): a kept file
    made by other code is never read back."""
    key = tuple(modules)
    if key not in _CODE:
        digest = hashlib.sha256()
        here = os.path.dirname(os.path.abspath(__file__))
        for name in key:
            with open(os.path.join(here, name), "rb") as handle:
                digest.update(name.encode() + b"\0" + handle.read() + b"\0")
        _CODE[key] = digest.hexdigest()
    return _CODE[key]


def keep(path: str, data: bytes) -> None:
    """Put ``data`` at ``path``, whole or not at all; never raises for a file system that refuses."""
    try:
        atomic_write(path, data, durable=False)
    except (OSError, DiskFull):
        pass
