"""A careful TAXII 2.1 HTTP client: retries with backoff and jitter, honours 429.

Network errors, 5xx answers and bodies that do not parse (a connection cut mid-body) are
retried with exponential backoff and full jitter; a 429 waits what ``Retry-After`` says.
Other 4xx answers are final and raise :class:`PeerError` with the server's TAXII error.
"""

from __future__ import annotations

import email.utils
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson

from accord.model.errors import AccordError

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"


class PeerError(AccordError):
    """A peer answered with a final error, or stayed unreachable after every retry."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 300.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return random.uniform(0, min(self.cap, self.base * (2**attempt)))


@dataclass
class Reply:
    data: dict[str, Any]
    headers: httpx.Headers
    status: int


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class TaxiiClient:
    def __init__(
        self,
        url: str,
        *,
        auth: httpx.Auth | None = None,
        token: str | None = None,
        verify: bool | ssl.SSLContext = True,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        headers = {"Accept": TAXII_MEDIA_TYPE, "User-Agent": "accord-sync"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(auth=auth, headers=headers, verify=verify, timeout=timeout)
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.on_retry = on_retry
        self.retries = 0

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TaxiiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        extra = dict(headers or {})
        if body is not None:
            extra["Content-Type"] = TAXII_MEDIA_TYPE
        last = ""
        for attempt in range(self.retry.attempts):
            wait: float | None = None
            try:
                resp = self.http.request(method, url, params=params, content=body, headers=extra)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 429:
                    last = "429 Too Many Requests"
                    wait = _retry_after(resp.headers.get("Retry-After"))
                    if wait is not None:
                        wait = min(wait, self.retry.max_retry_after)
                elif resp.status_code >= 500:
                    last = f"HTTP {resp.status_code}"
                elif resp.status_code >= 400:
                    raise PeerError(self._error_text(resp), resp.status_code)
                else:
                    try:
                        data = orjson.loads(resp.content) if resp.content else {}
                    except orjson.JSONDecodeError as exc:
                        last = f"unreadable body ({exc})"
                    else:
                        if isinstance(data, dict):
                            return Reply(data, resp.headers, resp.status_code)
                        last = "the body is not a JSON object"
            if attempt + 1 == self.retry.attempts:
                break
            self.retries += 1
            if self.on_retry:
                self.on_retry(f"{method} {url}: {last}; retrying")
            self.sleep(wait if wait is not None else self.retry.backoff(attempt))
        raise PeerError(f"{method} {url}: {last} (gave up after {self.retry.attempts} tries)")

    @staticmethod
    def _error_text(resp: httpx.Response) -> str:
        detail = ""
        try:
            data = resp.json()
            if isinstance(data, dict):
                detail = str(data.get("title", ""))
                if data.get("description"):
                    detail += f": {data['description']}"
        except ValueError:
            detail = resp.text[:200]
        return f"{resp.request.method} {resp.request.url}: HTTP {resp.status_code} {detail}".strip()

    def get(self, url: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Reply:
        return self.request("GET", url, params=params, **kw)

    def post(self, url: str, envelope: Mapping[str, Any]) -> Reply:
        return self.request("POST", url, body=orjson.dumps(envelope))

    def api_root(self) -> tuple[str, dict[str, Any]]:
        """Resolve the configured URL (discovery or API root) to an API root and its info."""
        first = self.get(self.url).data
        if "api_roots" in first or "default" in first:
            root = first.get("default") or (first.get("api_roots") or [None])[0]
            if not root:
                raise PeerError(f"{self.url}: the discovery resource lists no API root")
            root_url = urljoin(self.url, root)
            if not root_url.endswith("/"):
                root_url += "/"
            return root_url, self.get(root_url).data
        if "versions" in first:
            return self.url, first
        raise PeerError(f"{self.url} is neither a TAXII discovery resource nor an API root")

    def collections(self, root_url: str) -> list[dict[str, Any]]:
        return list(self.get(urljoin(root_url, "collections/")).data.get("collections", []))
