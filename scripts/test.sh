#!/usr/bin/env bash
# Sets up, then runs the whole test suite (unit and integration: real git daemon, HTTP
# lookaside, rpmbuild, createrepo_c and DNF on loopback), after mypy (strict, configured in
# pyproject.toml) has checked the core. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@" tests
