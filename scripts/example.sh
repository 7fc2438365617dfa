#!/usr/bin/env bash
# The main job on the embedded example: sets up, serves the example dist-git, upstream git
# and lookaside cache on loopback, and runs `stream-build run` on it into an installroot:
# the toy stack and the real one (the C library tinyz, the Python module tinyconf and the
# program tinyzip built against both), then runs the installed tinyzip. Run it again and
# nothing is rebuilt. Work files go to examples/.run (or $EXAMPLE_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

RUN=$(realpath -m "${EXAMPLE_DIR:-examples/.run}")
mkdir -p "$RUN"
rm -f "$RUN/forge/forge.pid"
.venv/bin/python examples/localforge.py serve "$RUN/forge" \
  --manifest "$RUN/stream-build.yaml" --installroot "$RUN/installroot" >"$RUN/forge.log" 2>&1 &
FORGE=$!
trap 'kill "$FORGE" 2>/dev/null; wait "$FORGE" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [ -f "$RUN/forge/forge.pid" ] && break
  kill -0 "$FORGE" 2>/dev/null || { cat "$RUN/forge.log" >&2; exit 1; }
  sleep 0.1
done
cat "$RUN/forge.log"

.venv/bin/stream-build run "$RUN/stream-build.yaml" -j 2 -y "$@"
echo
# the installroot is Fedora-shaped: its rpm database where Fedora 44 keeps it, whoever installed
echo "rpm --root $RUN/installroot --dbpath /usr/lib/sysimage/rpm -qa:"
rpm --root "$RUN/installroot" --dbpath /usr/lib/sysimage/rpm -qa | sort | sed 's/^/  /'
echo
# the program built against the stream's libtinyz, run with the installroot's library
libdir=$(rpm --eval '%{_libdir}')
echo "$RUN/installroot/usr/bin/tinyzip --version:"
LD_LIBRARY_PATH="$RUN/installroot$libdir" "$RUN/installroot/usr/bin/tinyzip" --version | sed 's/^/  /'
