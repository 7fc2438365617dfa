"""What every front-end prints: the end of a build, the state of the last run, warnings and errors.

``stream-build``, ``dnf stream-build``, ``fedpkg-stream`` and ``koji stream-build`` print
these lines and JSON documents as they are, so a build ends with the same words and a
status reads the same whichever command asked. (Live progress while working is
:mod:`streambuild.progress`; an install's outcome is
:meth:`streambuild.frontend.InstallOutcome.lines`.)

Component states are shown as people read them: ``cached`` (a result reused from the
result store) is ``unchanged``, here and in the progress lines.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence

from . import values
from .errors import InputError, StreamBuildError

#: How a component state is shown (the journal and ``--json`` keep the states themselves).
SHOWN_STATE = {"cached": "unchanged"}

#: The prefix of every warning and error line on standard error.
PROG = "stream-build"


def shown(state: str) -> str:
    return SHOWN_STATE.get(state, state)


# -- the end of a build -------------------------------------------------------------


def summary_lines(report: Any) -> List[str]:
    """The backend, one line per component (its log when it failed, what it took from the host
    unchecked), the counts, then the series audit."""
    lines = []
    if getattr(report, "backend", ""):
        lines.append(f"backend: {report.backend} ({report.backend_reason})")
    for result in report.results.values():
        line = f"  {result.name:30} {shown(result.state):12}"
        if result.state == "failed":
            line += f" log: {result.log}"
            if result.message:
                line += f" ({result.message})"
        elif result.message and result.state not in ("done", "cached"):
            line += f" {result.message}"
        lines.append(line.rstrip())
        resolution = getattr(result, "resolution", None)
        if resolution is not None and resolution.assumed:
            lines.append(f"  {'':30} assumed from the host: {', '.join(resolution.assumed)}")
    counts = f"{report.count('done')} built, {report.count('cached')} unchanged (not rebuilt), " \
             f"{report.count('failed')} failed, {report.count('skipped') + report.count('not-started')} not built"
    if report.count("submitted"):
        counts += f", {report.count('submitted')} submitted"
    lines.append(counts)
    lines += audit_lines(getattr(report, "audits", {}), getattr(report, "added_edges", ()))
    return lines


def summary_json(report: Any, **extra: Any) -> Dict[str, Any]:
    """The summary ``--json`` prints at the end of a build (``extra``: what a backend adds, such as
    Koji's repo regenerations)."""
    data = {"event": "summary", "backend": getattr(report, "backend", ""),
            "components": [r.to_json() for r in report.results.values()],
            "audit": [a.to_json() for a in getattr(report, "audits", {}).values()],
            "added_edges": list(getattr(report, "added_edges", ())), "findings": list(getattr(report, "findings", ()))}
    data.update({k: v for k, v in extra.items() if v is not None})
    return data


def regeneration_line(regenerations: Mapping[str, Any]) -> str:
    return (f"  repo regenerations of the stream tag: {regenerations.get('count')} "
            f"(at most {regenerations.get('bound')}: plan depth {regenerations.get('depth')} + 1)")


def build_end(report: Any, stream_repo: Optional[str], as_json: bool,
              regenerations: Optional[Mapping[str, Any]] = None) -> List[str]:
    """Everything a finished (or submitted) build prints on standard output."""
    if as_json:
        return [json.dumps(summary_json(report, regenerations=dict(regenerations) if regenerations else None))]
    lines = summary_lines(report)
    if regenerations:
        lines.append(regeneration_line(regenerations))
    if stream_repo is not None:
        lines.append(f"stream repository: {stream_repo}")
    return lines


def detached_lines(pid: int, log: str, follow: str, as_json: bool) -> List[str]:
    """What ``--nowait`` prints for a build started in the background."""
    if as_json:
        return [json.dumps({"event": "started", "pid": pid, "log": log})]
    return [f"started in the background (pid {pid}, log {log})", f"follow it with: {follow}"]


def koji_lines(command: str, result: Mapping[str, Any], task_url: Any) -> List[str]:
    """``stream-build koji status|cancel|list`` as people read them, with each task's web address."""
    if command == "cancel":
        return [f"canceled: {result.get('task_id', result.get('canceled'))}"]
    if command == "list":
        return [f"{e['task_id']:>8} {e['state']:9} {e.get('stream') or '':20} {task_url(e['task_id'])}"
                for e in result.get("streams", [])]
    lines = []
    if "task_id" in result:
        lines.append(f"stream task {result['task_id']}: {result['state']} {task_url(result['task_id'])}")
    for comp in result.get("components", []):
        url = task_url(comp["task_id"]) if comp.get("task_id") else ""
        lines.append(f"  {comp['name']:30} {shown(comp['state']):12} {url}".rstrip())
    return lines


# -- the series audit ------------------------------------------------------------------


def audit_lines(audits: Mapping[str, Any], added_edges: Sequence[Mapping[str, str]] = ()) -> List[str]:
    """The series audit as people read it: how much the stream met, and every build against the base."""
    if not audits and not added_edges:
        return []
    inside = sum(len(a.from_stream) for a in audits.values())
    outside = sum(len(a.from_outside) for a in audits.values())
    lines = [f"series audit: {inside} BuildRequires met by the stream, {outside} by the base or the host"]
    for edge in added_edges:
        lines.append(f"  learned while building: {edge['component']} waited for {edge['after']} ({edge['capability']})")
    for audit in audits.values():
        lines += [f"  warning: {finding}" for finding in audit.findings]
    return lines


# -- the last run, from the journal ------------------------------------------------------


def last_run(journal_path: str) -> Any:
    """The last run in a journal (:class:`streambuild.journal.RunSummary`); InputError when there is none."""
    from . import journal

    last = journal.last_run(journal_path)
    if last is None:
        raise InputError(f"no run recorded in {journal_path} (start one with 'stream-build build')")
    return last


def run_state(last: Any) -> str:
    if last.interrupted:
        return "interrupted (continue with --resume)"
    return f"finished: {last.ended.get('outcome')}"


def status_json(last: Any) -> Dict[str, Any]:
    from .audit import ComponentAudit

    audits = [ComponentAudit.from_json(record) for record in last.audits.values()]
    return {"run": last.run, "state": run_state(last), "components": last.states,
            "audit": [a.to_json() for a in audits], "added_edges": last.added_edges,
            "findings": [f for a in audits for f in a.findings]}


def status_lines(last: Any) -> List[str]:
    from .audit import ComponentAudit

    lines = [f"run {last.run}: {run_state(last)}"]
    lines += [f"  {name:30} {shown(str(record.get('state')))}" for name, record in last.states.items()]
    audits = {name: ComponentAudit.from_json(record) for name, record in last.audits.items()}
    return lines + audit_lines(audits, last.added_edges)


def status(journal_path: str, as_json: bool) -> List[str]:
    """What every front-end's ``status`` prints for the journal at ``journal_path``."""
    last = last_run(journal_path)
    if as_json:
        return [json.dumps(status_json(last), indent=2, sort_keys=True)]
    return status_lines(last)


# -- warnings and errors -------------------------------------------------------------------


def warning_line(message: str) -> str:
    """A warning as every front-end shows it on standard error."""
    return f"{PROG}: warning: {values.redact(message)}"


def error_line(message: str, prog: str = PROG) -> str:
    """An error as every front-end shows it on standard error: a line per problem (a manifest with three
    mistakes says all three)."""
    return "\n".join(f"{prog}: error: {line}" for line in values.redact(message).splitlines() or [""])


def error_json(error: BaseException, exit_code: int) -> str:
    """An error as ``--json`` reports it on standard output: one object, with the exit code."""
    kind = type(error).__name__ if isinstance(error, StreamBuildError) else "UsageError"
    data: Dict[str, Any] = {"event": "error", "error": kind, "message": values.redact(str(error)), "exit_code": exit_code}
    if getattr(error, "problems", None):
        data["problems"] = [values.redact(StreamBuildError.__str__(p)) for p in error.problems]  # type: ignore[attr-defined]
    return json.dumps(data, sort_keys=True)
