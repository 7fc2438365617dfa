"""tinyzip's own test: every sample of tinyconf round-trips, and --version names the series."""

import subprocess
import sys

import tinyconf

program = sys.argv[1]
for sample in tinyconf.samples():
    packed = subprocess.run([program], input=sample, capture_output=True, check=True).stdout
    back = subprocess.run([program, "-d"], input=packed, capture_output=True, check=True).stdout
    assert back == sample, f"round trip of {len(sample)} bytes failed"
version = subprocess.run([program, "--version"], capture_output=True, text=True, check=True).stdout
assert "built against tinyz" in version and "configured at build time by tinyconf" in version, version
print(version.strip())
print(f"{len(tinyconf.samples())} samples round-trip")
