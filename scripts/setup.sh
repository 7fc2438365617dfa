#!/usr/bin/env bash
# Installs what stream-build and its tests need on Debian 12 or Fedora (as root, or with
# sudo): the packages listed in scripts/packages.debian or scripts/packages.fedora. Then
# makes .venv: a virtual environment on the system's /usr/bin/python3 that sees the
# system's DNF and rpm Python bindings (--system-site-packages), with stream-build
# installed in editable mode. Safe to run again; does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
packages() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$1"; }

if command -v apt-get >/dev/null 2>&1; then
  missing=$(packages scripts/packages.debian | while read -r p; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done)
  if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:" $missing >&2
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
elif command -v dnf >/dev/null 2>&1; then
  missing=$(packages scripts/packages.fedora | while read -r p; do rpm -q "$p" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ]; then
    echo "setup: installing Fedora packages:" $missing >&2
    # shellcheck disable=SC2086
    $SUDO dnf install -y -q $missing
  fi
else
  echo "setup: neither apt-get nor dnf found; install the packages in scripts/packages.fedora by hand" >&2
  exit 4
fi

if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' \
  2> >(grep -v '^WARNING: Location' >&2)

# Real sdists from PyPI for the tests that plan real Fedora specs with their real sources
# (tests/data/sdists.txt); downloaded once, never committed.
mkdir -p .cache/sdists
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' tests/data/sdists.txt | while read -r req; do
  name=${req%%==*}; version=${req##*==}
  ls .cache/sdists/"$name"-"$version".* >/dev/null 2>&1 && continue
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    -d .cache/sdists "$req" || echo "setup: could not download the sdist $req (its tests will be skipped)" >&2
done

# Byte-compile the project, so that the first run of each command does not pay for it.
.venv/bin/python -m compileall -q core/streambuild >/dev/null
