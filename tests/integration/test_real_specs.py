"""Planning real Fedora Rawhide specs (from the shared snapshot) as a user would: edges rpm's generators make.

The specs come from ``../shared/data/fedora-rawhide-specs.tar.xz`` (all of Rawhide, August 2026),
extracted by the test; the dist-git repositories hold only the spec, as when no sources are
at hand. Nothing here is a hand-written toy: these are the specs of the PyTorch stack.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import add_package, cli, manifest, needs_rpm

SNAPSHOT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fedora-rawhide-specs.tar.xz"
pytestmark = [pytest.mark.integration, needs_rpm,
              pytest.mark.skipif(not SNAPSHOT.is_file(), reason=f"the spec snapshot is not at {SNAPSHOT}")]


def real_specs(*names: str) -> Dict[str, str]:
    wanted = {f"specs/{n}.spec": n for n in names}
    found: Dict[str, str] = {}
    with tarfile.open(SNAPSHOT) as tar:
        for member in tar:
            if member.name in wanted:
                handle = tar.extractfile(member)
                assert handle is not None
                found[wanted[member.name]] = handle.read().decode("utf-8")
                if len(found) == len(wanted):
                    break
    assert set(found) == set(names), f"missing from the snapshot: {set(names) - set(found)}"
    return found


def edges(plan: dict) -> List[dict]:
    return plan["edges"]


def test_the_torch_stack_is_ordered_by_generated_provides(forge, tmp_path: Path) -> None:
    names = ["python-torch", "python-torchaudio", "python-torchdata", "python-torchvision", "python-safetensors"]
    for name, text in real_specs(*names).items():
        add_package(forge, name, "rawhide", {f"{name}.spec": text})
    m = manifest(tmp_path / "torch.yaml", forge, [f"{n}:rawhide" for n in names])
    out = cli("plan", str(m), "--json")
    assert out.code == 0, out.stderr
    plan = json.loads(out.stdout)
    after = {c["name"]: c["after"] for c in plan["components"]}
    assert "python-torch" in after["python-torchaudio"]
    assert "python-torch" in after["python-torchdata"]
    by_pair = {(e["from"], e["to"]): e for e in edges(plan)}
    audio = by_pair[("python-torch", "python-torchaudio")]
    assert audio["capability"] == "python3dist(torch)" and audio["source"] == "convention" and audio["predicted"]
    assert by_pair[("python-torch", "python-torchdata")]["capability"] == "python3dist(torch)"
    # torchvision needs torch only through %pyproject_buildrequires, whose sources are not here: said, not hidden
    assert any("python-torchvision: %pyproject_buildrequires needs its sources" in n and "order may be incomplete" in n
               for n in plan["notes"])
    text = cli("plan", str(m))
    assert "edges (predicted" in text.stdout
    assert "python-torchaudio after python-torch: python3dist(torch) [convention]" in text.stdout


SDISTS = Path(__file__).resolve().parents[2] / ".cache" / "sdists"


def test_pyproject_buildrequires_from_a_real_sdist_order_the_build(forge, tmp_path: Path) -> None:
    sdist = SDISTS / "requests-2.34.2.tar.gz"
    if not sdist.is_file():
        pytest.skip(f"{sdist} is not there (scripts/setup.sh downloads it from PyPI)")
    specs = real_specs("python-requests", "python-setuptools", "python-urllib3", "python-idna")
    # the real sdist from PyPI, under the name the real spec's Source gives it
    line = forge.layout.upload("python-requests", "requests-v2.34.2.tar.gz", sdist.read_bytes())
    add_package(forge, "python-requests", "rawhide", {"python-requests.spec": specs["python-requests"], "sources": line})
    for name in ("python-setuptools", "python-urllib3", "python-idna"):
        add_package(forge, name, "rawhide", {f"{name}.spec": specs[name]})
    m = manifest(tmp_path / "py.yaml", forge, [f"{n}:rawhide" for n in specs])
    out = cli("plan", str(m), "--json")
    assert out.code == 0, out.stderr
    plan = json.loads(out.stdout)
    requests = next(c for c in plan["components"] if c["name"] == "python-requests")
    assert set(requests["after"]) == {"python-setuptools", "python-urllib3", "python-idna"}
    generated = requests["dynamic_buildrequires"]
    assert generated["exact"], generated  # setuptools' own PEP 517 hooks ran on the sdist
    assert "python3dist(setuptools) >= 61.0" in generated["requires"]  # [build-system] requires
    assert "(python3dist(urllib3) >= 1.26 with python3dist(urllib3) < 3)" in generated["requires"]  # runtime, -r
    by_pair = {(e["from"], e["to"]): e for e in plan["edges"]}
    setuptools = by_pair[("python-setuptools", "python-requests")]
    assert setuptools["capability"] == "python3dist(setuptools) >= 61.0" and setuptools["requirement"] == "generated"
    # the extras the spec asks for (-x security,socks) come from the wheel's metadata, marked for the extra
    assert any("python3dist(pysocks) >= 1.5.6" in r for r in generated["requires"])
