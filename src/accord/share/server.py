"""The TAXII 2.1 server: discovery at ``/taxii2/``, one API root at ``/api/``.

The app holds no state of its own beyond caches: collections, grants, policies, logins,
status resources and paging positions all live in the store (paging positions inside the
opaque ``next`` token), so any number of processes can serve one database.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import and_, delete
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.model.errors import AccordError
from accord.share import tables as t
from accord.share.auth import Authenticator, Principal
from accord.share.collections import Collection, find_collection, list_collections
from accord.share.intake import Intake, IntakeResult
from accord.share.redaction import Profile
from accord.share.settings import ShareSettings, load_settings
from accord.share.signing import Signer, ensure_own_keys
from accord.share.status import (
    insert_status,
    new_status_id,
    process_pending,
    purge_old,
    read_status,
    record_result,
    resume_stale,
)
from accord.share.taxii import (
    STIX_MEDIA_TYPE,
    TAXII_MEDIA_TYPE,
    TaxiiError,
    check_accept,
    check_content_type,
    parse_filters,
)
from accord.share.view import Audience, BadCursor, Filters, Page, View
from accord.store.home import NodeHome
from accord.store.store import Store

API_ROOT = "/api/"
CHALLENGE = {"WWW-Authenticate": 'Basic realm="accord", Bearer realm="accord"'}


class Node:
    """What the server needs of this node: its home, store, signing keys and logins."""

    def __init__(self, home: NodeHome, store: Store) -> None:
        self.home = home
        self.store = store
        self.auth = Authenticator(store)
        self._key_stamp: float | None = None
        self._signer: Signer | None = None
        self._lock = threading.Lock()

    @property
    def signer(self) -> Signer:
        """The signing keys, reloaded when the key file changes (after a rotation)."""
        key_file = self.home.path / "keys" / "node.key"
        stamp = key_file.stat().st_mtime
        with self._lock:
            if self._signer is None or stamp != self._key_stamp:
                self.home = NodeHome(self.home.path)
                self._signer = Signer.from_home(self.home)
                ensure_own_keys(self._signer, self.store)
                self._key_stamp = stamp
            return self._signer

    def settings(self) -> ShareSettings:
        return load_settings(self.store)

    def identity(self) -> dict[str, Any]:
        own = self.store.get(self.home.identity_id) or self.home.identity
        return self.signer.sign_own(own)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers=headers, media_type=TAXII_MEDIA_TYPE)


def _page_headers(page: Page) -> dict[str, str]:
    if not page.items:
        return {}
    return {
        "X-TAXII-Date-Added-First": str(page.first_added),
        "X-TAXII-Date-Added-Last": str(page.last_added),
    }


def _objects_body(page: Page) -> bytes:
    parts = [b'{"more":', b"true" if page.more else b"false"]
    if page.next:
        parts += [b',"next":', orjson.dumps(page.next)]
    if page.items:
        parts += [b',"objects":[', ",".join(i.body for i in page.items).encode(), b"]"]
    parts.append(b"}")
    return b"".join(parts)


def create_app(
    home: NodeHome | Path | str,
    store: Store | None = None,
    *,
    resume_jobs: bool = True,
) -> FastAPI:
    """Build the TAXII 2.1 ASGI app for a node home (optionally over an open store)."""
    node_home = home if isinstance(home, NodeHome) else NodeHome(Path(home))
    node = Node(node_home, store or node_home.open_store())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if resume_jobs:  # finish large envelopes a dead process left pending
            threading.Thread(
                target=resume_stale,
                args=(node.store,),
                kwargs={"node_identity": node.home.identity_id},
                daemon=True,
            ).start()
        yield

    app = FastAPI(
        title="accord TAXII 2.1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.node = node
    posts = itertools.count()

    @app.exception_handler(TaxiiError)
    async def _taxii_error(_request: Request, exc: TaxiiError) -> Response:
        return Response(exc.body(), exc.status, headers=exc.headers, media_type=TAXII_MEDIA_TYPE)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        err = TaxiiError(exc.status_code, str(exc.detail or "Error"))
        return Response(err.body(), exc.status_code, media_type=TAXII_MEDIA_TYPE)

    @app.exception_handler(AccordError)
    async def _accord_error(_request: Request, exc: AccordError) -> Response:
        err = TaxiiError(422, "Unprocessable", str(exc))
        return Response(err.body(), 422, media_type=TAXII_MEDIA_TYPE)

    def authenticate(request: Request) -> Principal:
        header = request.headers.get("authorization")
        if not header:
            raise TaxiiError(401, "Authentication required", headers=CHALLENGE)
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        found: Principal | None = None
        with node.store.engine.connect() as conn:
            if scheme == "basic":
                try:
                    user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
                except (binascii.Error, UnicodeDecodeError):
                    user, sep, password = "", "", ""
                if sep:
                    found = node.auth.basic(conn, user, password)
            elif scheme in ("bearer", "token"):
                found = node.auth.token(conn, value.strip())
        if found is None:
            raise TaxiiError(401, "Authentication failed", headers=CHALLENGE)
        return found

    def collection_for(principal: Principal, collection_id: str) -> Collection:
        # Not granted and not existing look the same: the answer reveals nothing.
        if not principal.can_access(collection_id):
            raise TaxiiError(404, "Collection not found")
        with node.store.engine.connect() as conn:
            found = find_collection(conn, collection_id)
        if found is None or found.collection_id != collection_id:
            raise TaxiiError(404, "Collection not found")
        return found

    def view_for(principal: Principal, collection: Collection) -> View:
        assert principal.peer is not None
        peer = principal.peer
        settings = node.settings() if peer.redact != "none" else ShareSettings()
        profile = Profile(peer.redact, node.home.identity_id, settings.internal_domains)
        audience = Audience(peer.name, peer.ceiling, profile)
        return View(node.store, node.signer, collection, audience)

    def guarded(request: Request) -> Principal:
        check_accept(request.headers.get("accept"))
        return authenticate(request)

    @app.get("/taxii2/")
    def discovery(request: Request) -> Response:
        check_accept(request.headers.get("accept"))
        settings = node.settings()
        if not settings.anonymous_discovery:
            authenticate(request)
        body: dict[str, Any] = {
            "title": settings.title or f"accord node {node.home.config.name}",
            "description": "TAXII 2.1 server of an accord node: shared by policy.",
            "default": API_ROOT,
            "api_roots": [API_ROOT],
        }
        if settings.contact:
            body["contact"] = settings.contact
        return _json(body)

    @app.get(API_ROOT)
    def api_root(request: Request) -> Response:
        guarded(request)
        settings = node.settings()
        return _json(
            {
                "title": settings.title or f"accord node {node.home.config.name}",
                "description": "Collections this node shares with you, under its policy.",
                "versions": [TAXII_MEDIA_TYPE],
                "max_content_length": settings.max_content_length,
                "x_accord_identity": node.identity(),
            }
        )

    def status_endpoint(request: Request, status_id: str) -> Response:
        principal = guarded(request)
        found = read_status(node.store, status_id, principal.peer_name or principal.name)
        if found is None:
            raise TaxiiError(404, "Status not found")
        return _json(found)

    app.add_api_route(API_ROOT + "status/{status_id}/", status_endpoint, methods=["GET"])
    app.add_api_route(API_ROOT + "status/{status_id}", status_endpoint, methods=["GET"])

    @app.get(API_ROOT + "collections/")
    def collections(request: Request) -> Response:
        principal = guarded(request)
        granted = [c for c in list_collections(node.store) if principal.can_access(c.collection_id)]
        body: dict[str, Any] = {}
        if granted:
            body["collections"] = [c.resource(True, c.is_inbox) for c in granted]
        return _json(body)

    @app.get(API_ROOT + "collections/{collection_id}/")
    def collection(request: Request, collection_id: str) -> Response:
        principal = guarded(request)
        found = collection_for(principal, collection_id)
        return _json(found.resource(True, found.is_inbox))

    def listing(
        request: Request,
        collection_id: str,
        render: Callable[[Page], bytes],
        *,
        object_id: str | None = None,
        versions_endpoint: bool = False,
    ) -> Response:
        principal = guarded(request)
        found = collection_for(principal, collection_id)
        filters, token, limit = parse_filters(
            request.query_params,
            default_version="all" if versions_endpoint else "last",
            versions_allowed=not versions_endpoint,
        )
        if object_id is not None:
            filters = Filters(
                filters.added_after_us,
                (object_id,),
                filters.types,
                filters.versions,
                filters.spec_versions,
            )
        view = view_for(principal, found)
        position = None
        if token is not None:
            try:
                position = view.open_cursor(token)
            except BadCursor as exc:
                raise TaxiiError(400, "Bad next", str(exc)) from None
        page = view.page(filters, position, limit)
        if object_id is not None and not page.items and position is None:
            raise TaxiiError(404, "Object not found")
        headers = _page_headers(page)
        if request.headers.get("x-accord-want-total") and position is None:
            total = view.count(filters)  # exact, or None (then the header is left out)
            if total is not None:
                headers["X-Accord-Total"] = str(total)
        return Response(render(page), 200, headers=headers, media_type=TAXII_MEDIA_TYPE)

    def _manifest_body(page: Page) -> bytes:
        body: dict[str, Any] = {"more": page.more}
        if page.next:
            body["next"] = page.next
        if page.items:
            body["objects"] = [
                {
                    "id": i.id,
                    "date_added": i.date_added,
                    "version": i.version,
                    "media_type": STIX_MEDIA_TYPE,
                }
                for i in page.items
            ]
        return orjson.dumps(body)

    def _versions_body(page: Page) -> bytes:
        body: dict[str, Any] = {"more": page.more}
        if page.next:
            body["next"] = page.next
        if page.items:
            body["versions"] = [i.version for i in page.items]
        return orjson.dumps(body)

    @app.get(API_ROOT + "collections/{collection_id}/manifest/")
    def manifest(request: Request, collection_id: str) -> Response:
        return listing(request, collection_id, _manifest_body)

    @app.get(API_ROOT + "collections/{collection_id}/objects/")
    def get_objects(request: Request, collection_id: str) -> Response:
        return listing(request, collection_id, _objects_body)

    @app.get(API_ROOT + "collections/{collection_id}/objects/{object_id}/")
    def get_object(request: Request, collection_id: str, object_id: str) -> Response:
        return listing(request, collection_id, _objects_body, object_id=object_id)

    @app.get(API_ROOT + "collections/{collection_id}/objects/{object_id}/versions/")
    def versions(request: Request, collection_id: str, object_id: str) -> Response:
        return listing(
            request, collection_id, _versions_body, object_id=object_id, versions_endpoint=True
        )

    @app.delete(API_ROOT + "collections/{collection_id}/objects/{object_id}/")
    def delete_object(request: Request, collection_id: str, object_id: str) -> Response:
        principal = guarded(request)
        found = collection_for(principal, collection_id)
        if not found.is_inbox:
            raise TaxiiError(403, "Forbidden", "this collection is a read-only selection")
        filters, _, _ = parse_filters(request.query_params, default_version="all")
        filters = Filters(None, (object_id,), (), filters.versions, filters.spec_versions)
        view = view_for(principal, found)
        rows = {item.row_id for item in view.iter_items(filters) if item.id == object_id}
        if not rows:
            raise TaxiiError(404, "Object not found")
        with node.store.transaction() as conn:
            conn.execute(
                delete(t.inbox_objects).where(
                    and_(
                        t.inbox_objects.c.collection_id == collection_id,
                        t.inbox_objects.c.row_id.in_(sorted(rows)),
                    )
                )
            )
        return Response(b"", 200, media_type=TAXII_MEDIA_TYPE)

    @app.post(API_ROOT + "collections/{collection_id}/objects/")
    async def add_objects(request: Request, collection_id: str) -> Response:
        check_accept(request.headers.get("accept"))
        check_content_type(request.headers.get("content-type"))
        principal = await run_in_threadpool(authenticate, request)
        found = await run_in_threadpool(collection_for, principal, collection_id)
        if not found.is_inbox:
            raise TaxiiError(403, "Forbidden", "this collection is not writable")
        settings = await run_in_threadpool(node.settings)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_content_length:
            raise TaxiiError(
                413, "Request too large", f"max_content_length is {settings.max_content_length}"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_content_length:
                raise TaxiiError(
                    413, "Request too large", f"max_content_length is {settings.max_content_length}"
                )
            chunks.append(chunk)
        raw = b"".join(chunks)
        try:
            envelope = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise TaxiiError(400, "Bad JSON", str(exc)) from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("objects", []), list):
            raise TaxiiError(
                422, "Unprocessable", 'the body must be an envelope: {"objects": [...]}'
            )
        objects = envelope.get("objects", [])
        peer_name = principal.peer_name or principal.name
        status_id = new_status_id()
        if len(objects) > settings.sync_post_limit:
            pendings = [
                {
                    "id": str(o.get("id")),
                    "version": str(o.get("modified") or o.get("created") or ""),
                }
                for o in objects
                if isinstance(o, dict)
            ]

            def enqueue() -> None:
                with node.store.transaction() as conn:
                    insert_status(
                        conn,
                        status_id,
                        collection_id,
                        peer_name,
                        len(objects),
                        payload=raw.decode(),
                        pendings=pendings,
                    )

            await run_in_threadpool(enqueue)
            body = await run_in_threadpool(read_status, node.store, status_id, peer_name)
            task = BackgroundTask(
                process_pending, node.store, status_id, node_identity=node.home.identity_id
            )
            return Response(orjson.dumps(body), 202, media_type=TAXII_MEDIA_TYPE, background=task)

        def store_now() -> dict[str, Any] | None:
            intake = Intake(
                node.store,
                peer_name,
                peer=principal.peer,
                collection_id=collection_id,
                node_identity=node.home.identity_id,
            )

            def commit(conn: Any, result: IntakeResult) -> None:
                insert_status(conn, status_id, collection_id, peer_name, len(objects))
                record_result(conn, status_id, result, done=True)

            intake.ingest(objects, inbox=collection_id, on_commit=commit)
            return read_status(node.store, status_id, peer_name)

        body = await run_in_threadpool(store_now)
        housekeeping = BackgroundTask(purge_old, node.store) if next(posts) % 500 == 0 else None
        return Response(
            orjson.dumps(body), 202, media_type=TAXII_MEDIA_TYPE, background=housekeeping
        )

    return app
