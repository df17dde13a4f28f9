"""What a format reader needs to know about the import it is part of."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from accord.model.timestamps import format_millis, now_utc
from accord.model.tlp import TLP, TLP2_IDS

# A reader yields (place, object): place is where the object came from inside the file,
# for example "object 12" or "line 4", so that errors can name it.
Located = tuple[str, dict[str, Any]]
ReaderResult = Iterator[Located]


@dataclass
class ImportContext:
    """Parameters shared by every reader of one import run.

    ``identity_id`` is this node's identity: objects a reader *creates* (indicators from a
    CSV or a text, the report around them) carry it in ``created_by_ref``. Objects that
    arrive as STIX are never altered: ``tlp`` only sets their index level.
    """

    identity_id: str
    source_name: str
    tlp: TLP | None = None
    keep_private: bool = False
    now: datetime = field(default_factory=now_utc)

    @property
    def timestamp(self) -> str:
        """One creation timestamp for everything this import creates (millisecond form)."""
        return format_millis(self.now)

    def marking_refs(self) -> list[str]:
        """Markings for objects this node creates: the ``--tlp`` level, when given."""
        return [TLP2_IDS[self.tlp]] if self.tlp is not None else []


def file_place(path: Path) -> str:
    return str(path)
