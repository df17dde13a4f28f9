"""STIX timestamps: strict parsing, microsecond integers for indexes, canonical output.

STIX 2.1 timestamps are RFC 3339 in UTC with a mandatory ``Z``. The store keeps
``modified`` and ``date_added`` as integer microseconds since the epoch so that ordering
and keyset paging are exact on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

_STIX_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_stix_timestamp(value: object) -> datetime:
    """Parse a STIX timestamp strictly; raise ``ValueError`` naming the problem."""
    if not isinstance(value, str):
        raise ValueError(f"timestamp must be a string, got {type(value).__name__}")
    return _parse_text(value)


@lru_cache(maxsize=4096)
def _parse_text(value: str) -> datetime:
    # Cached: bulk imports repeat the same created/modified/valid_from stamps many times.
    m = _STIX_TS.match(value)
    if not m:
        raise ValueError(f"not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z): {value!r}")
    year, month, day, hour, minute, second, frac = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=UTC
        )
    except ValueError as exc:  # e.g. month 13, Feb 30, second 60
        raise ValueError(f"invalid date or time in {value!r}: {exc}") from None


def to_micros(dt: datetime) -> int:
    """Microseconds since the epoch, exact (no float rounding)."""
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def stix_micros(value: str) -> int:
    """Parse a STIX timestamp into epoch microseconds."""
    if not isinstance(value, str):
        return to_micros(parse_stix_timestamp(value))  # raises, naming the type
    return _micros_text(value)


@lru_cache(maxsize=4096)
def _micros_text(value: str) -> int:
    # Cached like _parse_text: the store converts every versioned object's 'modified'.
    return to_micros(_parse_text(value))


def format_micros(micros: int) -> str:
    """Canonical STIX/TAXII timestamp with microsecond precision."""
    return from_micros(micros).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@lru_cache(maxsize=4096)
def canonical_stamp(value: str) -> str:
    """``value`` in the canonical microsecond form (raises ``ValueError`` if invalid).

    Content hashing writes every timestamp of every object in this form; the cache keeps
    that from costing a ``strftime`` per timestamp on a bulk import.
    """
    return format_micros(_micros_text(value))


def format_millis(dt: datetime) -> str:
    """STIX timestamp with millisecond precision, the form most producers use."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_user_date(value: str) -> datetime:
    """Parse a date given on the command line: ``2025-12-01`` or a full ISO 8601 timestamp."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a date: {value!r} (use YYYY-MM-DD or ISO 8601)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
