"""Shared helpers of the benchmarks: where the real Fedora data is, and how to load it.

Not a benchmark itself (the leading underscore keeps it out of ``bench_*`` globs).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "core"))

from streambuild.capabilities import provide_name  # noqa: E402
from streambuild.graph import ComponentFacts  # noqa: E402

#: The data set (see /work/shared/data/README.md); STREAMBUILD_FEDORA_DATA overrides it.
DATA = ROOT.parent / "shared" / "data" / "fedora-rawhide-deps.jsonl.gz"


def data_path() -> Path:
    """The data file, or exit with a message saying where it was expected."""
    import os

    path = Path(os.environ.get("STREAMBUILD_FEDORA_DATA", str(DATA)))
    if not path.is_file():
        sys.exit(f"benchmark data not found: {path} (set STREAMBUILD_FEDORA_DATA)")
    return path


def read_rows(path: Path) -> List[Dict[str, Any]]:
    """Read and decode the JSON lines: the baseline every planning ratio is taken against."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def to_facts(rows: List[Dict[str, Any]]) -> List[ComponentFacts]:
    """The rows as the planner's input."""
    return [
        ComponentFacts(r["name"], tuple(r["buildrequires"]), tuple(r["provides"])) for r in rows
    ]


def full_base(facts: List[ComponentFacts]) -> "set[str]":
    """Every capability some package of the data provides: the base used to break cycles."""
    return {provide_name(p) for f in facts for p in f.provides}
