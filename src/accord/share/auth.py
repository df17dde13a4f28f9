"""Logins and tokens for the TAXII server, and turning a request's credentials into a peer.

* Passwords are hashed with argon2id (``argon2-cffi`` defaults, RFC 9106 low-memory).
* Tokens are 32 random bytes shown once; only their SHA-256 is stored. A token is looked up
  by its hash and the hashes are compared again in constant time.
* Verifying argon2 on every request would cap a peer at a few pages per second, so a
  process remembers which (user, password) pairs it verified, keyed by a keyed digest and
  tied to the stored hash: changing or disabling a password takes effect at once. That
  memory is only a cache; every server process can answer any request without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, insert, select, update

from accord.model.errors import AccordError, NotFound
from accord.share import tables as t
from accord.share.peers import Peer, load_peer
from accord.share.sqlutil import now_us
from accord.store.store import Store

_hasher = PasswordHasher()
TOKEN_PREFIX = "acc_"


@dataclass
class Principal:
    """Who is asking: a login or token name, and the peer whose policy applies."""

    name: str
    peer: Peer | None

    @property
    def peer_name(self) -> str | None:
        return self.peer.name if self.peer else None

    def can_access(self, collection_id: str) -> bool:
        return self.peer is not None and collection_id in self.peer.grants


def add_user(store: Store, name: str, password: str, *, peer: str | None = None) -> None:
    name = name.strip()
    if not name or ":" in name:
        raise AccordError("a user name must be non-empty and contain no ':'")
    if len(password) < 12:
        raise AccordError("use a password of at least 12 characters")
    with store.transaction() as conn:
        if conn.execute(select(t.users.c.user_id).where(t.users.c.name == name)).first():
            raise AccordError(f"user {name!r} already exists (use `accord user passwd`)")
        conn.execute(
            insert(t.users).values(
                name=name,
                password_hash=_hasher.hash(password),
                peer_name=peer,
                created_us=now_us(),
                disabled=False,
            )
        )


def set_password(store: Store, name: str, password: str) -> None:
    if len(password) < 12:
        raise AccordError("use a password of at least 12 characters")
    with store.transaction() as conn:
        done = conn.execute(
            update(t.users)
            .where(t.users.c.name == name)
            .values(password_hash=_hasher.hash(password))
        )
    if done.rowcount == 0:
        raise NotFound(f"no user {name!r}")


def disable_user(store: Store, name: str) -> None:
    with store.transaction() as conn:
        done = conn.execute(update(t.users).where(t.users.c.name == name).values(disabled=True))
    if done.rowcount == 0:
        raise NotFound(f"no user {name!r}")


def list_users(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.users.c.name, t.users.c.peer_name, t.users.c.disabled).order_by(t.users.c.name)
        ).all()
    return [
        {"name": r.name, "peer": r.peer_name or r.name, "disabled": bool(r.disabled)} for r in rows
    ]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, peer: str, label: str | None = None) -> str:
    """A new bearer token for ``peer``; the caller shows it once, only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as conn:
        if load_peer(conn, peer) is None:
            raise NotFound(f"no peer named {peer!r}: add it first with `accord peer add`")
        conn.execute(
            insert(t.tokens).values(
                token_hash=_token_hash(token),
                peer_name=peer,
                label=label,
                created_us=now_us(),
                revoked=False,
            )
        )
    return token


def revoke_tokens(store: Store, peer: str) -> int:
    with store.transaction() as conn:
        done = conn.execute(
            update(t.tokens).where(t.tokens.c.peer_name == peer).values(revoked=True)
        )
    return int(done.rowcount or 0)


class Authenticator:
    """Resolve HTTP credentials to a :class:`Principal`, or None when they are not valid."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._secret = secrets.token_bytes(32)
        self._verified: dict[bytes, str] = {}
        self._lock = threading.Lock()

    def basic(self, conn: Connection, username: str, password: str) -> Principal | None:
        row = conn.execute(
            select(t.users.c.password_hash, t.users.c.peer_name, t.users.c.disabled).where(
                t.users.c.name == username
            )
        ).first()
        if row is None:
            _hasher_dummy_verify(password)
            return None
        if row.disabled:
            return None
        digest = hmac.new(self._secret, f"{username}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            cached = self._verified.get(digest)
        if cached is None or not hmac.compare_digest(cached, row.password_hash):
            try:
                _hasher.verify(row.password_hash, password)
            except (VerificationError, InvalidHashError):
                return None
            with self._lock:
                if len(self._verified) > 10_000:
                    self._verified.clear()
                self._verified[digest] = row.password_hash
        return Principal(username, load_peer(conn, row.peer_name or username))

    def token(self, conn: Connection, token: str) -> Principal | None:
        digest = _token_hash(token)
        row = conn.execute(
            select(t.tokens.c.token_hash, t.tokens.c.peer_name, t.tokens.c.revoked).where(
                t.tokens.c.token_hash == digest
            )
        ).first()
        if row is None or row.revoked or not hmac.compare_digest(row.token_hash, digest):
            return None
        return Principal(f"token:{row.peer_name}", load_peer(conn, row.peer_name))


_DUMMY_HASH = _hasher.hash("accord-dummy-password")


def _hasher_dummy_verify(password: str) -> None:
    """Spend the same time on unknown users as on known ones (no user enumeration)."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_DUMMY_HASH, password)
