"""What identifies a stream Koji builds, and the SRPMs made for it: shared by the plugin-mode client
(:mod:`streambuild.koji.client`) and the side-tag fallback (:mod:`streambuild.koji.sidetag`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Dict

from .. import srpm
from ..build import StreamJob
from ..results import result_key
from .config import KojiProfile

#: The backend name in result keys: a Koji result is never confused with a local one.
BACKEND = "koji"


def stream_key(job: StreamJob, profile: KojiProfile, target: str) -> str:
    """What the submitted stream is (hub, target, lock, flags): runs with the same one may share a task."""
    data = [profile.server, target, job.lock.to_json(), job.manifest.digest()]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def result_keys(job: StreamJob) -> Dict[str, str]:
    """The result store keys of every component for this backend, as the local executor computes them."""
    keys: Dict[str, str] = {}
    for comp in job.plan.components:
        keys[comp.name] = result_key(comp.name, comp.commit, job.sources[comp.name].digest, job.manifest.base.name,
                                     job.macros[comp.name], BACKEND, [keys[d] for d in comp.after])
    return keys


def build_srpm(job: StreamJob, name: str, out_dir: str) -> str:
    """The SRPM of a component from its prepared sources (for hubs that build it from an upload)."""
    return srpm.make_srpm(name, job.sources[name], job.macros[name], out_dir, job.workdir.tmp(f"srpm-{name}-"))
