"""stream-build: build sets of Fedora packages from upstream release-series branches.

The public API, for the front-ends (``dnf stream-build``, ``fedpkg-stream``, ``koji stream-build``,
the Koji plugins) and for plugins: the names in ``__all__``. They are imported when first used,
so ``import streambuild`` costs nothing (``stream-build --help`` stays fast); everything else is
internal and may change.
"""

from __future__ import annotations

import importlib
from typing import Any, Dict, List

__version__ = "0.1.0"

_PUBLIC: Dict[str, str] = {
    # one stream, end to end
    "Stream": "streambuild.stream:Stream",
    "require_success": "streambuild.stream:require_success",
    "load_manifest": "streambuild.manifest:load_manifest",
    "find_manifest": "streambuild.manifest:find_manifest",
    "make_plugins": "streambuild.plugins:make_plugins",
    "hookimpl": "streambuild.plugins:hookimpl",
    "STREAM_REPO_ID": "streambuild.install:STREAM_REPO_ID",
    # what front-ends decide and print the same way
    "frontend": "streambuild.frontend",
    "render": "streambuild.render",
    "options": "streambuild.options",
    "command_line": "streambuild.cli:cli",
    "HostCall": "streambuild.cliutil:HostCall",
    "host_args": "streambuild.cliutil:host_args",
    "manifest_path": "streambuild.cliutil:manifest_path",
    "open_stream": "streambuild.cliutil:open_stream",
    "default_workdir": "streambuild.workdir:default_root",
    # hosts
    "dnf4": "streambuild._foreign.dnf4",
    "koji_cli_main": "streambuild.koji.commands:koji_cli_main",
    "fedpkg_register": "streambuild._foreign.rpkg:register",
    "fedpkg_main": "streambuild.fedpkg_stream:main",
    # errors and exit codes
    "StreamBuildError": "streambuild.errors:StreamBuildError",
    "InputError": "streambuild.errors:InputError",
    "ManifestError": "streambuild.errors:ManifestError",
    "BuildFailed": "streambuild.errors:BuildFailed",
    "InstallError": "streambuild.errors:InstallError",
    "PolicyDenied": "streambuild.errors:PolicyDenied",
    "EnvironmentProblem": "streambuild.errors:EnvironmentProblem",
    "EXIT_OK": "streambuild.errors:EXIT_OK",
    "EXIT_FAILED": "streambuild.errors:EXIT_FAILED",
    "EXIT_BAD_INPUT": "streambuild.errors:EXIT_BAD_INPUT",
    "EXIT_POLICY": "streambuild.errors:EXIT_POLICY",
    "EXIT_ENVIRONMENT": "streambuild.errors:EXIT_ENVIRONMENT",
    "EXIT_INTERRUPTED": "streambuild.errors:EXIT_INTERRUPTED",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str) -> Any:
    try:
        module, _, attribute = _PUBLIC[name].partition(":")
    except KeyError:
        raise AttributeError(f"module 'streambuild' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attribute:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return list(__all__)
