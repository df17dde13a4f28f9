"""Reading hits back: the evidence behind each sighting, filterable by indicator and time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select

from accord.hunt import tables as t
from accord.model.timestamps import format_micros
from accord.store.store import Store


@dataclass(frozen=True, slots=True)
class Hit:
    source: str
    file: str
    line: int
    log_type: str
    field: str
    observed: str
    ts_us: int | None
    indicator_id: str
    kind: str
    matched: str
    annotations: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "file": self.file,
            "line": self.line,
            "log_type": self.log_type,
            "field": self.field,
            "observed": self.observed,
            "timestamp": format_micros(self.ts_us) if self.ts_us is not None else None,
            "indicator": self.indicator_id,
            "kind": self.kind,
            "matched": self.matched,
            "annotations": self.annotations,
        }


def query_hits(
    store: Store,
    *,
    indicator_id: str | None = None,
    since_us: int | None = None,
    limit: int | None = None,
) -> list[Hit]:
    """Hits in time order (oldest first), optionally for one indicator and after a time."""
    h, f, src = t.hunt_hits, t.hunt_files, t.hunt_sources
    query = (
        select(
            src.c.name,
            f.c.path,
            h.c.line,
            h.c.log_type,
            h.c.field,
            h.c.observed,
            h.c.ts_us,
            h.c.indicator_id,
            h.c.kind,
            h.c.matched,
            h.c.annotations,
        )
        .join(f, f.c.file_id == h.c.file_id)
        .join(src, src.c.source_id == h.c.source_id)
        .order_by(h.c.ts_us, f.c.path, h.c.line, h.c.field)
    )
    if indicator_id:
        query = query.where(h.c.indicator_id == indicator_id)
    if since_us is not None:
        query = query.where(h.c.ts_us >= since_us)
    if limit:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        return [
            Hit(
                r.name,
                r.path,
                int(r.line),
                r.log_type,
                r.field,
                r.observed,
                r.ts_us,
                r.indicator_id,
                r.kind,
                r.matched,
                orjson.loads(r.annotations) if r.annotations else [],
            )
            for r in conn.execute(query)
        ]
