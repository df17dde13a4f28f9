"""Node-wide sharing settings, kept in the store's ``meta`` table.

They live in the database rather than in ``config.toml`` so that every ``accord serve``
process behind a load balancer reads the same values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from accord.store.store import Store

META_KEY = "share.settings"


@dataclass
class ShareSettings:
    """``anonymous_discovery``: answer ``/taxii2/`` without credentials.

    ``internal_domains``: DNS suffixes of this organisation's internal network, which
    redaction treats like ``.local``. ``max_content_length``: the largest POST accepted.
    ``sync_post_limit``: envelopes with more objects are stored in the background.
    """

    anonymous_discovery: bool = False
    internal_domains: list[str] = field(default_factory=list)
    title: str | None = None
    contact: str | None = None
    max_content_length: int = 64 * 1024 * 1024
    sync_post_limit: int = 1000

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_settings(store: Store) -> ShareSettings:
    raw = store.get_meta(META_KEY)
    if not raw:
        return ShareSettings()
    data = orjson.loads(raw)
    known = {k: v for k, v in data.items() if k in ShareSettings.__dataclass_fields__}
    return ShareSettings(**known)


def save_settings(store: Store, settings: ShareSettings) -> None:
    store.set_meta(META_KEY, orjson.dumps(settings.as_dict()).decode())
