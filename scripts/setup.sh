#!/usr/bin/env bash
# Installs what stream-build needs on Debian 12 or Fedora (as root, or with sudo), then
# makes .venv: a virtual environment on the system's /usr/bin/python3 that sees the
# system's DNF and rpm Python bindings (--system-site-packages), with stream-build
# installed in editable mode. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need_tools() {
  for tool in git rpmbuild rpmspec createrepo_c; do
    command -v "$tool" >/dev/null 2>&1 || return 0
  done
  /usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || return 0
  /usr/bin/python3 -c 'import libdnf5' >/dev/null 2>&1 || /usr/bin/python3 -c 'import dnf' >/dev/null 2>&1 || return 0
  return 1
}

if need_tools; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      git rpm createrepo-c python3-dnf python3-venv python3-pip ca-certificates >/dev/null
  elif command -v dnf >/dev/null 2>&1; then
    echo "setup: installing Fedora packages" >&2
    $SUDO dnf install -y -q git-core rpm-build createrepo_c python3-pip \
      "$( /usr/bin/python3 -c 'import libdnf5' 2>/dev/null && echo python3-libdnf5 || echo python3-dnf )"
  else
    echo "setup: neither apt-get nor dnf found; install git, rpm-build, createrepo_c and DNF's Python bindings" >&2
    exit 4
  fi
fi

if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
