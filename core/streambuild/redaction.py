"""Secrets kept out of what is shown: the user information of URLs, before any message or log line.

A module of its own, importing nothing of the project, so that the exceptions
(:mod:`streambuild.errors`) and the value checks (:mod:`streambuild.values`) both use it.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s'\"]*)@")


def redact(text: str) -> str:
    """``text`` with the user information of every URL in it replaced by ``***``.

    Use it for everything shown or logged that may hold a URL: error messages, git's
    answers, journal records. ``ssh://git@host/x`` becomes ``ssh://***@host/x``.
    """
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text) if "@" in text else text
