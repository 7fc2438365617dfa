"""``kojihub.db`` of the test hub: the ``InsertProcessor`` the streambuild plugin uses.

Only the two tables the plugin writes under its own authority (a stream tag's
external repository): ``external_repo_config`` and ``tag_external_repos``, with
kojihub's columns. ``make_create()`` stamps the row with a new event, as in Koji.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import koji

from .state import current

TABLES = {
    "external_repo_config": ("external_repo_id", "url"),
    "tag_external_repos": ("tag_id", "external_repo_id", "priority", "merge_mode", "arches"),
}


class InsertProcessor:
    def __init__(self, table: str, data: Optional[Dict[str, Any]] = None, rawdata: Optional[Dict[str, Any]] = None) -> None:
        if table not in TABLES:
            raise koji.GenericError(f"the test hub's InsertProcessor has no table {table}")
        self.table = table
        self.data: Dict[str, Any] = dict(data or {})

    def set(self, **kwargs: Any) -> None:
        self.data.update(kwargs)

    def make_create(self, event_id: Any = None, creator_id: Any = None) -> None:
        pass  # the event is taken in execute()

    def execute(self) -> None:
        missing = [c for c in TABLES[self.table] if c not in self.data]
        if missing:
            raise koji.GenericError(f"{self.table}: missing columns {missing}")
        hub = current()
        if self.table == "external_repo_config":
            hub.external_repos[self.data["external_repo_id"]]["url"] = self.data["url"]
        else:
            if any(e["tag_id"] == self.data["tag_id"] and e["external_repo_id"] == self.data["external_repo_id"]
                   for e in hub.tag_external):
                raise koji.GenericError("duplicate key value violates unique constraint")
            if self.data["merge_mode"] not in koji.REPO_MERGE_MODES:
                raise koji.GenericError("No such merge mode: %s" % self.data["merge_mode"])
            hub.tag_external.append(dict(self.data))
            hub.touch_tag(self.data["tag_id"])
        hub.new_event()
