"""TAXII 2.1 protocol details: media types, the error format and query-string filters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from accord.model.timestamps import parse_stix_timestamp, stix_micros, to_micros
from accord.share.view import Filters

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
DEFAULT_PAGE = 1000
MAX_PAGE = 10_000


class TaxiiError(Exception):
    """An error answered in the TAXII error message format."""

    def __init__(
        self,
        status: int,
        title: str,
        description: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.description = description
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        data: dict[str, Any] = {"title": self.title, "http_status": str(self.status)}
        if self.description:
            data["description"] = self.description
        return orjson.dumps(data)


def _media_parts(value: str) -> tuple[str, dict[str, str]]:
    kind, *params = (p.strip() for p in value.split(";"))
    parsed: dict[str, str] = {}
    for p in params:
        key, _, val = p.partition("=")
        parsed[key.strip().lower()] = val.strip().strip('"')
    return kind.lower(), parsed


def taxii_media_ok(value: str) -> bool:
    """``application/taxii+json`` with version 2.1 or no version."""
    kind, params = _media_parts(value)
    return kind == "application/taxii+json" and params.get("version", "2.1") == "2.1"


def check_accept(header: str | None) -> None:
    """406 unless the client accepts TAXII 2.1 JSON (a missing header or ``*/*`` does)."""
    if not header:
        return
    for candidate in header.split(","):
        kind, params = _media_parts(candidate)
        if kind in ("*/*", "application/*"):
            return
        if kind == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return
    raise TaxiiError(
        406,
        "Not Acceptable",
        f"this server answers in {TAXII_MEDIA_TYPE}; the request accepts {header!r}",
    )


def check_content_type(header: str | None) -> None:
    if not header or not taxii_media_ok(header):
        raise TaxiiError(
            415,
            "Unsupported Media Type",
            f"send the envelope as {TAXII_MEDIA_TYPE} (got {header or 'no Content-Type'})",
        )


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def parse_filters(
    params: Mapping[str, str], *, default_version: str = "last", versions_allowed: bool = True
) -> tuple[Filters, str | None, int]:
    """Parse TAXII query parameters into filters, the ``next`` token and a limit (400 if bad).

    The token stays sealed here: only the view it was issued by can open it
    (:meth:`accord.share.view.View.open_cursor`), since it is bound to a collection and an
    audience.
    """
    added_after: int | None = None
    if params.get("added_after"):
        try:
            added_after = to_micros(parse_stix_timestamp(params["added_after"]))
        except ValueError as exc:
            raise TaxiiError(400, "Bad added_after", str(exc)) from None
    limit = DEFAULT_PAGE
    if params.get("limit") is not None:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise TaxiiError(400, "Bad limit", "limit must be a positive integer") from None
        if limit < 1:
            raise TaxiiError(400, "Bad limit", "limit must be a positive integer")
        limit = min(limit, MAX_PAGE)
    token = params.get("next") or None
    versions: list[str | int] = []
    raw_version = params.get("match[version]") if versions_allowed else None
    for value in _split(raw_version or default_version):
        if value in ("last", "first", "all"):
            versions.append(value)
            continue
        try:
            versions.append(stix_micros(value))
        except ValueError:
            raise TaxiiError(
                400,
                "Bad match[version]",
                f"{value!r} is not last, first, all or a STIX timestamp",
            ) from None
    spec_versions = _split(params.get("match[spec_version]", ""))
    filters = Filters(
        added_after_us=added_after,
        ids=_split(params.get("match[id]", "")),
        types=_split(params.get("match[type]", "")),
        versions=tuple(versions),
        spec_versions=spec_versions,
    )
    return filters, token, limit
