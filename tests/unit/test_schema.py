from __future__ import annotations

import json
import subprocess
import sys

from streambuild.schema import MANIFEST_SCHEMA


def test_schema_command_prints_the_schema() -> None:
    out = subprocess.run([sys.executable, "-m", "streambuild.cli", "schema"], capture_output=True, text=True, check=True)
    printed = json.loads(out.stdout)
    assert printed == MANIFEST_SCHEMA
    assert printed["additionalProperties"] is False and printed["required"] == ["base", "build"]
    assert set(printed["properties"]["build"]["items"]["properties"]) == {"type", "url", "lookaside", "packages"}
