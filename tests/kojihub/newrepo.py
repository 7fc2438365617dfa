"""The test builder's ``newRepo`` and ``createrepo`` tasks, as kojid runs them (builder/kojid, Koji 1.35).

``newRepo`` calls repo_init (a new repo at a new event: pkglist and blocklist per arch),
then one ``createrepo`` child task per arch, which

1. runs ``createrepo_c --error-exit-val -vd -o <out> [-i pkglist] <arch dir>`` over the
   tag's latest builds (an empty repo, marked ``EMPTY_REPO``, when there are none and no
   external repos);
2. when the tag (or a parent) has external repos, merges them exactly as kojid does: all
   in one merge mode (``Found multiple merge modes`` otherwise), ``$arch`` substituted,
   the local repo first, then ``mergerepo_c --pkgorigins --all`` (``bare``),
   ``mergerepo_c --koji -b blocklist`` (``koji``) or ``--koji --simple -b blocklist``
   (``simple``), ``-a <arch> --arch-expand``. A missing or broken external repo makes
   ``mergerepo_c`` fail, and the task fails with kojid's ``failed to merge repos: ...
   exited with status 1``.

The metadata lands in ``repos/<tag>/<id>/<arch>/repodata`` and repoDone marks the repo
READY; a failure leaves it in INIT and fails both tasks (kojira retries the request).
``delay`` seconds are spent first: what a regeneration costs (benchmarks).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional

import koji
import koji.util

from . import repos
from .state import Hub

CREATEREPO = "/usr/bin/createrepo_c"
MERGEREPO = "/usr/bin/mergerepo_c"


def _run(cmd: List[str], log: str, env: Optional[Dict[str, str]] = None) -> int:
    with open(log, "a", encoding="utf-8") as handle:
        handle.write("$ " + " ".join(cmd) + "\n")
        handle.flush()
        proc = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env)
    return proc.returncode << 8  # a wait status, as kojid's log_output returns


def merge_command(external: List[Dict[str, Any]], arch: str, local: str, out: str, blocklist: str) -> List[str]:
    """kojid's CreaterepoTask.merge_repos command line."""
    modes = sorted({e.get("merge_mode") or "koji" for e in external})
    if len(modes) > 1:
        raise koji.GenericError("Found multiple merge modes for external repos: %s\n" % modes)
    mode = modes[0]
    if mode == "simple":
        cmd = [MERGEREPO, "--koji", "--simple"]
    elif mode == "bare":
        cmd = [MERGEREPO, "--pkgorigins", "--all"]
    else:
        cmd = [MERGEREPO, "--koji"]
    if mode != "bare":
        cmd += ["-b", blocklist]
    cmd += ["-a", arch, "-o", out, "--arch-expand"]
    for url in ["file://" + local + "/"] + [e["url"].replace("$arch", arch) for e in external
                                           if not e.get("arches") or arch in e["arches"].split()]:
        cmd += ["-r", url]
    return cmd


def createrepo(hub: Hub, repo: Dict[str, Any], arch: str, external: List[Dict[str, Any]], work: str, log: str) -> None:
    """One arch of a repo: createrepo_c over the pkglist, then mergerepo_c with the external repos."""
    arch_dir = repos.repo_path(hub, repo, arch)
    out = os.path.join(work, "repo")
    os.makedirs(out)
    pkglist: Optional[str] = os.path.join(arch_dir, "pkglist")
    if os.path.getsize(pkglist) == 0:
        pkglist = None
    cmd = [CREATEREPO, "--error-exit-val", "-vd", "-o", out]
    if pkglist:
        cmd += ["-i", pkglist]
    cmd.append(arch_dir if pkglist else out)
    status = _run(cmd, log)
    if status:
        raise koji.GenericError("failed to create repo: %s"
                                % koji.util.parseStatus(status, koji.util.format_shell_cmd(cmd)))
    if external:
        local = os.path.join(work, f"repo_{repo['id']}_premerge")
        os.rename(out, local)
        os.makedirs(out)
        cmd = merge_command(external, arch, local, out, os.path.join(arch_dir, "blocklist"))
        status = _run(cmd, log, env=dict(os.environ, TMPDIR=work))
        if status:
            raise koji.GenericError("failed to merge repos: %s"
                                    % koji.util.parseStatus(status, koji.util.format_shell_cmd(cmd)))
    elif pkglist is None:
        with open(os.path.join(out, "repodata", "EMPTY_REPO"), "w", encoding="utf-8") as handle:
            handle.write("This repo is empty because its tag has no content for this arch\n")
    shutil.copytree(os.path.join(out, "repodata"), os.path.join(arch_dir, "repodata"))


def new_repo(hub: Hub, task: Dict[str, Any], workdir: str, host_id: int, delay: float = 0.0) -> List[int]:
    """The ``newRepo`` task: returns ``[repo_id, event_id]`` as kojid's does, or raises its fault."""
    args, kwargs = koji.decode_args(*task["request"])
    tag_ref = args[0]
    with hub.lock:
        tag = hub.get_tag(tag_ref["id"] if isinstance(tag_ref, dict) else tag_ref, strict=True)
        repo_id, event = repos.repo_init(hub, tag["id"], task["id"])
        repo = hub.repos[repo_id]
        external = hub.external_list(tag["id"])
        children = {}
        for arch in repos.repo_arches(tag):
            child = hub.make_task("createrepo", [repo_id, arch, None], parent=task["id"], label=arch, arch="noarch")
            hub.tasks[child].update(state=koji.TASK_STATES["OPEN"], host_id=host_id)
            children[arch] = child
    time.sleep(delay)
    failure: Optional[koji.GenericError] = None
    for arch, child in children.items():
        work = tempfile.mkdtemp(prefix=f"createrepo-{child}-", dir=workdir)
        log = os.path.join(hub.task_dir(child), "createrepo.log")
        os.makedirs(os.path.dirname(log), exist_ok=True)
        try:
            createrepo(hub, repo, arch, external, work, log)
            outcome = ("CLOSED", ("ok", [koji.pathinfo.taskrelpath(child), ["repodata"]]))
        except koji.GenericError as exc:
            failure = failure or exc
            outcome = ("FAILED", ("fault", (exc.faultCode, str(exc))))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        with hub.lock:
            hub.close_task(child, *outcome)
    if failure is not None:
        raise failure
    with hub.lock:
        repos.repo_done(hub, repo_id)
    return [repo_id, event]
