#!/usr/bin/env bash
# Sets up, then runs the whole test suite (unit and integration: real git daemon, HTTP
# lookaside, rpmbuild, createrepo_c and DNF on loopback). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@" tests
