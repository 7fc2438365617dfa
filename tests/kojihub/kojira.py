"""The test hub's kojira: the repo queue and the external repos' timestamps (util/kojira, Koji 1.35).

Two loops, as kojira's ``regen`` and ``check_external`` threads:

- ``repo.checkQueue``: newRepo tasks for waiting repo requests, retries, exhausted
  requests (:func:`.repos.check_queue`);
- external repos: the newest ``<timestamp>`` of each external repo's ``repomd.xml``
  (``$arch`` expanded over the tags' arches); when it grows, the repo's
  ``external_repo_data`` changes, which is a change event of every tag using it (so a
  request with ``min_event="last"`` asks for a newer repo). An unreadable repo is skipped,
  as kojira does.
"""

from __future__ import annotations

import threading
import urllib.request
import xml.etree.ElementTree as ET
from typing import Dict, Optional

from . import repos
from .state import Hub

_TIMESTAMP = "{http://linux.duke.edu/metadata/repo}timestamp"


def repomd_timestamp(url: str) -> int:
    """The newest timestamp in ``<url>/repodata/repomd.xml``; 0 when it cannot be read."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/repodata/repomd.xml", timeout=5) as response:
            root = ET.fromstring(response.read())
        return max(round(float(e.text or 0)) for e in root.iter(_TIMESTAMP))
    except (OSError, ValueError, ET.ParseError):
        return 0


class Kojira:
    def __init__(self, hub: Hub, user_id: int, interval: float = 0.05, check_external: bool = True) -> None:
        self.hub = hub
        self.user_id = user_id
        self.interval = interval
        self.check_external = check_external
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="test-kojira", daemon=True)
        self.max_ts: Dict[int, int] = {}
        self.error: Optional[BaseException] = None

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)

    def _loop(self) -> None:
        rounds = 0
        try:
            while not self.stopping.is_set():
                with self.hub.lock:
                    repos.check_queue(self.hub, self.user_id)
                if self.check_external and rounds % 4 == 0:
                    self.external()
                rounds += 1
                self.stopping.wait(self.interval)
        except BaseException as exc:  # noqa: BLE001 - reported by TestHub.stop
            self.error = exc
            raise

    def external(self) -> None:
        with self.hub.lock:
            used = {}
            for entry in self.hub.tag_external:
                repo = self.hub.external_repos[entry["external_repo_id"]]
                arches = repos.repo_arches(self.hub.tags[entry["tag_id"]]) if entry["tag_id"] in self.hub.tags else []
                used.setdefault(repo["id"], set()).update(
                    repo["url"].replace("$arch", a) for a in (arches if "$arch" in repo["url"] else ["-"]))
        for repo_id, urls in used.items():
            newest = max((repomd_timestamp(u) for u in urls), default=0)
            if newest > self.max_ts.get(repo_id, 0):
                self.max_ts[repo_id] = newest
                with self.hub.lock:
                    if repo_id in self.hub.external_repos:
                        self.hub.external_repos[repo_id]["changed"] = self.hub.new_event()
