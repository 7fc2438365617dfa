"""Built-in plugins registered by name and imported when first used (:func:`streambuild.plugins.lazy`).

The build backends (:mod:`streambuild.backends.local`, :mod:`streambuild.backends.mock`), the
Koji backend (:mod:`streambuild.koji.client`), the container install target
(:mod:`streambuild.targets.container`), the forge types (:mod:`streambuild.forges`) and the
policy rules (:mod:`streambuild.policy.rules`) are plugins like any other; registering them here,
without importing them, keeps a command from paying for what it does not use.
"""

from __future__ import annotations

from typing import Any

from .plugins import hookimpl, lazy

FORGES = {
    "pagure": "streambuild.forges.pagure:PagureForge",
    "forgejo": "streambuild.forges.forgejo:ForgejoForge",
    "git": "streambuild.forges.gitforge:GitForge",
}


@hookimpl(trylast=True)
def streambuild_register(registry: Any) -> None:
    registry.add_backend("local", lazy("streambuild.backends.local:LocalBackend"))
    registry.add_backend("mock", lazy("streambuild.backends.mock:MockBackend"))
    registry.add_stream_backend("koji", lazy("streambuild.koji.client:KojiBackend"))
    registry.add_install_target("container", lazy("streambuild.targets.container:ContainerTarget"))
    for kind, path in FORGES.items():
        registry.add_forge(kind, lazy(path))
    registry.add_policy_rules(lazy("streambuild.policy.rules:builtin_rules"))
