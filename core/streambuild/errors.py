"""The exception hierarchy and the exit codes the command line maps them to.

Every error a user can cause is a :class:`StreamBuildError`; its ``exit_code`` is
what every front-end returns. Nothing else should reach a user as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from .redaction import redact

#: Exit codes, documented in README.md ("Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1  # a build or an install failed
EXIT_BAD_INPUT = 2  # manifest, lock, arguments, refs, sources
EXIT_POLICY = 3  # a stream policy denied the set
EXIT_ENVIRONMENT = 4  # a tool is missing, or the work directory is in use
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Location:
    """Where in a file something stands (1-based line and column)."""

    path: str
    line: Optional[int] = None
    column: Optional[int] = None

    def __str__(self) -> str:
        if self.line is None:
            return self.path
        if self.column is None:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.column}"


class StreamBuildError(Exception):
    """Base of every error stream-build reports to a user."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, location: Optional[Location] = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        """The message with its place; user information in URLs is never shown (``https://***@host/``)."""
        if self.location is not None:
            return redact(f"{self.location}: {self.message}")
        return redact(self.message)


class InputError(StreamBuildError):
    """Bad input: a value the user gave that cannot be used."""


class ManifestError(InputError):
    """The manifest is malformed or names something impossible."""


class ManifestErrors(ManifestError):
    """Every problem of one manifest, reported together (each with its place)."""

    def __init__(self, problems: "Sequence[ManifestError]") -> None:
        first = problems[0]
        super().__init__(first.message, first.location)
        self.problems = tuple(problems)

    def __str__(self) -> str:
        """One located line per problem."""
        return "\n".join(StreamBuildError.__str__(p) for p in self.problems)


class LockError(InputError):
    """The lock file is missing, malformed or does not match its manifest."""


class UnsafeValueError(InputError):
    """A name, ref or URL that could be taken as an option or by a shell."""


class SourceError(InputError):
    """A source cannot be had: unreachable repository, missing ref, bad lookaside file."""


class AnalysisError(InputError):
    """A spec file could not be parsed."""


class PlanError(InputError):
    """The set cannot be ordered (a cycle the base cannot break)."""


class BuildFailed(StreamBuildError):
    """One or more components failed to build."""

    exit_code = EXIT_FAILED


class PublishError(StreamBuildError):
    """The stream's repository could not be made (createrepo_c failed)."""

    exit_code = EXIT_FAILED


class InstallError(StreamBuildError):
    """Installing the stream's packages failed."""

    exit_code = EXIT_FAILED


class InstallAborted(InstallError):
    """The confirmation was refused (``--assumeno``, an answer, or no terminal to ask on): nothing was installed."""

    def __init__(self, message: str = "Operation aborted: nothing was installed", location: Optional[Location] = None) -> None:
        super().__init__(message, location)


class PolicyDenied(StreamBuildError):
    """A stream policy rule denied the set."""

    exit_code = EXIT_POLICY


class EnvironmentProblem(StreamBuildError):
    """The host lacks a tool, or the work directory is held by another run."""

    exit_code = EXIT_ENVIRONMENT


class DiskFull(EnvironmentProblem):
    """A file system filled up (ENOSPC, or a quota: EDQUOT) while stream-build or a tool wrote to it."""


class DownloadError(SourceError):
    """A download took longer than allowed or was larger than allowed."""


# -- the narrower errors of single parts (kept here, with their exit codes, for every front-end) -----


class ForgeUnavailable(EnvironmentProblem):
    """The forge cannot be reached, keeps failing, or answers something that is not its API."""


class ForgeRequestError(InputError):
    """The forge refused a request as invalid (a ``4xx`` other than 401, 403, 404)."""


class ForgeAuthError(ForgeRequestError):
    """The forge refused the token (``401``) or the token's user may not do this (``403``)."""


class BranchNotCreated(StreamBuildError):
    """Following a branch request ended without the branch: the ticket was closed, or the wait timed out."""

    exit_code = EXIT_FAILED


class CallUncertain(EnvironmentProblem):
    """A Koji call that must not be repeated blindly failed in transit: the hub may or may not have run it."""


class HubFault(StreamBuildError):
    """A Koji fault, as one result of a multicall (``code`` is Koji's faultCode)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class NotLoggedIn(StreamBuildError):
    """A Koji hub call needs a logged-in user."""


class StreamAbort(StreamBuildError):
    """A Koji stream task cannot build the stream at all (a bad request, a commit that is not there, no repo)."""


class PluginConflict(EnvironmentProblem):
    """Two plugins registered the same name (a backend, an install target, a rule, a forge type)."""
