"""The stream repository's metadata on the hub: born valid, replaced atomically.

The stream tag carries the stream task's output ``repo/`` as an external repository, and
kojid's ``mergerepo_c`` refuses an external repository without valid metadata. So:

- :func:`write_empty` gives ``repo/`` valid, empty metadata (``repodata/repomd.xml`` and
  empty primary, filelists and other, gzip, checksummed file names) before the stream
  tag exists, in plain Python (a hub need not have createrepo_c): made in a scratch
  directory and renamed into place, so a reader sees all of it or none;
- :func:`install` replaces ``repodata/repomd.xml`` with a staged one in one
  ``rename``, after checking that every file the staged one names is there with its
  size and checksum; the data files have checksummed names and are uploaded before, so
  a ``newRepo`` reading the repository at any moment sees either the old generation or
  the new one, never a mixture or a half-written file;
- :func:`timestamp` is what kojira reads to tell that an external repository changed.

Only file names matching :data:`STAGED` and ``repodata/<checksum>-<type>.xml.<ext>`` are
accepted: the staged name and the locations come from the builder, not from this hub.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

from ..errors import InputError

REPODATA = "repodata"
REPOMD = "repomd.xml"
STAGED_DIR = "staged"
STAGED = re.compile(r"repomd-[0-9]{1,9}\.xml\Z")
_NS = "http://linux.duke.edu/metadata/repo"
_DATA_HREF = re.compile(r"repodata/[0-9a-f]{32,128}-[A-Za-z0-9_]+\.[A-Za-z0-9_.]+\Z")
_EMPTY = {
    "primary": ('<metadata xmlns="http://linux.duke.edu/metadata/common" '
                'xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="0">\n</metadata>\n'),
    "filelists": '<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="0">\n</filelists>\n',
    "other": '<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="0">\n</otherdata>\n',
}
_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512, "sha1": hashlib.sha1, "sha": hashlib.sha1}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_empty(repo_dir: str, now: Optional[int] = None) -> bool:
    """Give ``repo_dir`` valid, empty metadata unless it has some; return whether it wrote any."""
    target = os.path.join(repo_dir, REPODATA)
    if os.path.isfile(os.path.join(target, REPOMD)):
        return False
    os.makedirs(repo_dir, exist_ok=True)
    stamp = int(time.time() if now is None else now)
    scratch = tempfile.mkdtemp(prefix=".repodata-", dir=repo_dir)
    entries = []
    for kind, text in _EMPTY.items():
        raw = ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode()
        packed = gzip.compress(raw, mtime=0)
        name = f"{_sha256(packed)}-{kind}.xml.gz"
        with open(os.path.join(scratch, name), "wb") as handle:
            handle.write(packed)
        entries.append(f'  <data type="{kind}">\n'
                       f'    <checksum type="sha256">{_sha256(packed)}</checksum>\n'
                       f'    <open-checksum type="sha256">{_sha256(raw)}</open-checksum>\n'
                       f'    <location href="{REPODATA}/{name}"/>\n'
                       f'    <timestamp>{stamp}</timestamp>\n'
                       f'    <size>{len(packed)}</size>\n'
                       f'    <open-size>{len(raw)}</open-size>\n'
                       '  </data>\n')
    repomd = ('<?xml version="1.0" encoding="UTF-8"?>\n'
              f'<repomd xmlns="{_NS}" xmlns:rpm="http://linux.duke.edu/metadata/rpm">\n'
              f'  <revision>{stamp}</revision>\n' + "".join(entries) + "</repomd>\n")
    with open(os.path.join(scratch, REPOMD), "w", encoding="utf-8") as handle:
        handle.write(repomd)
    os.chmod(scratch, 0o755)
    try:
        os.rename(scratch, target)  # all of it appears at once
    except OSError:
        if not os.path.isfile(os.path.join(target, REPOMD)):
            raise
        for name in os.listdir(scratch):  # someone else made it meanwhile: theirs stays
            os.unlink(os.path.join(scratch, name))
        os.rmdir(scratch)
        return False
    return True


def _parse(path: str) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise InputError(f"{os.path.basename(path)} is not a repository index: {exc}") from None


def references(repomd_path: str) -> List[Tuple[str, str, str, Optional[int]]]:
    """``(href, checksum type, checksum, size)`` of every data file a ``repomd.xml`` names."""
    out = []
    for data in _parse(repomd_path).findall(f"{{{_NS}}}data"):
        location, checksum = data.find(f"{{{_NS}}}location"), data.find(f"{{{_NS}}}checksum")
        size = data.find(f"{{{_NS}}}size")
        if location is None or checksum is None or not checksum.text:
            raise InputError(f"{data.get('type')} has no location or checksum")
        out.append((location.get("href") or "", checksum.get("type") or "", checksum.text.strip(),
                    int(size.text) if size is not None and size.text is not None and size.text.isdigit() else None))
    return out


def install(repo_dir: str, staged_name: str) -> int:
    """Replace ``repo_dir``'s ``repomd.xml`` with ``staged/<staged_name>``; return its timestamp.

    Every data file the staged index names must be in ``repo_dir/repodata`` with its size
    and checksum; files that neither the new nor the previous index names are removed.
    """
    if not isinstance(staged_name, str) or not STAGED.match(staged_name):
        raise InputError(f"staged index name {staged_name!r} is not repomd-<number>.xml")
    staged = os.path.join(repo_dir, STAGED_DIR, staged_name)
    if not os.path.isfile(staged):
        raise InputError(f"nothing staged as {STAGED_DIR}/{staged_name}")
    wanted = references(staged)
    for href, kind, checksum, size in wanted:
        if not _DATA_HREF.match(href):
            raise InputError(f"the staged index names {href!r}, not a file of {REPODATA}/")
        path = os.path.join(repo_dir, href)
        if not os.path.isfile(path):
            raise InputError(f"the staged index names {href}, which was not uploaded")
        if size is not None and os.path.getsize(path) != size:
            raise InputError(f"{href}: {os.path.getsize(path)} bytes, the index says {size}")
        digest = _HASHES.get(kind)
        if digest is None:
            raise InputError(f"{href}: unknown checksum type {kind!r}")
        with open(path, "rb") as handle:
            if digest(handle.read()).hexdigest() != checksum:
                raise InputError(f"{href}: checksum differs from the staged index")
    current = os.path.join(repo_dir, REPODATA, REPOMD)
    keep = {href for href, *_ in wanted} | ({href for href, *_ in references(current)}
                                           if os.path.isfile(current) else set())
    os.replace(staged, current)  # the one step a reader can see
    for name in os.listdir(os.path.join(repo_dir, REPODATA)):
        if name != REPOMD and f"{REPODATA}/{name}" not in keep:
            os.unlink(os.path.join(repo_dir, REPODATA, name))
    return timestamp(current)


def timestamp(repomd_path: str) -> int:
    """The newest ``<timestamp>`` of a ``repomd.xml``, as kojira compares external repositories."""
    stamps = [round(float(e.text or 0)) for e in _parse(repomd_path).iter(f"{{{_NS}}}timestamp")]
    return max(stamps, default=0)


def package_files(repo_dir: str) -> Dict[str, int]:
    """RPM file names in ``repo_dir`` with their sizes (what the stream repository holds)."""
    return {n: os.path.getsize(os.path.join(repo_dir, n)) for n in os.listdir(repo_dir) if n.endswith(".rpm")}
