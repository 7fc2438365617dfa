"""``stream-build koji ...`` without the koji client library: exit 4 and what to install, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import Result

#: ``import koji`` fails in this interpreter, as on a host where the package is not installed.
WITHOUT_KOJI = "import sys; sys.modules['koji'] = None; from streambuild.cli import main; main()"
MANIFEST = "base: fedora-44-x86_64\nbuild:\n- type: dist-git\n  url: https://src.fedoraproject.org/rpms/\n  packages:\n  - tiny:release-1.0\n"


def run(tmp_path, *args: str) -> Result:
    (tmp_path / "stream-build.yaml").write_text(MANIFEST)
    proc = subprocess.run([sys.executable, "-c", WITHOUT_KOJI, *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.parametrize("args", [
    ("koji", "build", "--nowait"), ("koji", "watch"), ("koji", "status"), ("koji", "cancel"), ("koji", "list"),
    ("build", "--backend", "koji"),
])
def test_without_the_koji_package_exit_4_saying_what_to_install(tmp_path, args):
    out = run(tmp_path, *args)
    assert out.code == 4, out.stderr
    assert "install stream-build[koji] (pip) or python3-koji (Fedora)" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "stream-build.yaml.lock").exists()  # refused before anything was resolved or written


def test_without_the_koji_package_the_rest_works(tmp_path):
    out = run(tmp_path, "validate")
    assert out.code == 0, out.stderr
