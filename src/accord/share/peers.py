"""Peers: who this node talks to, what each may read, and how to reach each one.

A peer record serves both directions. Inbound, it carries the policy (``tlp_max``,
``same_org``, ``redact``, granted collections) that every emitting path enforces for that
peer's logins and tokens. Outbound, it carries the peer's URL, the credentials this node
presents to it (encrypted at rest under a key derived from the node key, so a copy of the
database alone does not hand them out), the remote collections to pull, and the pinned key
of the peer's identity.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, delete, insert, select, update

from accord.model.errors import AccordError, NotFound
from accord.model.tlp import TLP
from accord.share import tables as t
from accord.share.collections import find_collection
from accord.share.policy import DEFAULT_TLP_MAX, Ceiling, check_profile, check_tlp_max
from accord.share.sqlutil import now_us
from accord.store.store import Store

AUTH_KINDS = ("none", "basic", "token")


def _fernet(private: Ed25519PrivateKey) -> Fernet:
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"accord peer secrets v1"
    ).derive(raw)
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(private: Ed25519PrivateKey, secret: str) -> str:
    return _fernet(private).encrypt(secret.encode()).decode()


def decrypt_secret(private: Ed25519PrivateKey, token: str) -> str:
    try:
        return _fernet(private).decrypt(token.encode()).decode()
    except InvalidToken:
        raise AccordError(
            "cannot decrypt a peer's stored credentials with this node's key; set them "
            "again with `accord peer add --replace`"
        ) from None


@dataclass
class Peer:
    name: str
    url: str
    auth_kind: str = "none"
    username: str | None = None
    secret: str | None = None  # encrypted
    ca_cert: str | None = None
    remote_collections: list[str] = field(default_factory=list)
    tlp_max: TLP = DEFAULT_TLP_MAX
    same_org: bool = False
    redact: str = "none"
    identity_id: str | None = None
    key_id: str | None = None
    grants: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ceiling(self) -> Ceiling:
        return Ceiling(self.tlp_max, self.same_org)

    def policy_dict(self) -> dict[str, Any]:
        return {
            "tlp_max": self.tlp_max.label,
            "same_org": self.same_org,
            "redact": self.redact,
            "collections": list(self.grants),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "auth": self.auth_kind,
            "username": self.username,
            "remote_collections": self.remote_collections,
            "identity_id": self.identity_id,
            "key_id": self.key_id,
            "policy": self.policy_dict(),
            **self.stats,
        }


_STAT_COLUMNS = (
    "last_success_us",
    "last_error",
    "last_error_us",
    "received",
    "stored",
    "duplicates",
    "quarantined",
    "flagged",
    "pushed",
    "push_after_us",
)


def _peer_from_row(r: Any, grants: list[str]) -> Peer:
    return Peer(
        name=r.name,
        url=r.url,
        auth_kind=r.auth_kind,
        username=r.username,
        secret=r.secret,
        ca_cert=r.ca_cert,
        remote_collections=json.loads(r.remote_collections or "[]"),
        tlp_max=TLP(r.tlp_max),
        same_org=bool(r.same_org),
        redact=r.redact,
        identity_id=r.identity_id,
        key_id=r.key_id,
        grants=grants,
        stats={c: getattr(r, c) for c in _STAT_COLUMNS},
    )


def load_peer(conn: Connection, name: str) -> Peer | None:
    row = conn.execute(select(t.peers).where(t.peers.c.name == name)).first()
    if row is None:
        return None
    grants = [
        g
        for (g,) in conn.execute(
            select(t.grants.c.collection_id).where(t.grants.c.peer_name == name)
        )
    ]
    return _peer_from_row(row, grants)


def get_peer(store: Store, name: str) -> Peer:
    with store.engine.connect() as conn:
        peer = load_peer(conn, name)
    if peer is None:
        raise NotFound(f"no peer named {name!r} (see `accord peer list`)")
    return peer


def list_peers(store: Store) -> list[Peer]:
    with store.engine.connect() as conn:
        names = [n for (n,) in conn.execute(select(t.peers.c.name).order_by(t.peers.c.name))]
        return [p for p in (load_peer(conn, n) for n in names) if p is not None]


def _resolve_collections(conn: Connection, ids: list[str]) -> list[str]:
    resolved: list[str] = []
    for value in ids:
        found = find_collection(conn, value)
        if found is None:
            raise NotFound(f"no local collection {value!r} (see `accord collection list`)")
        resolved.append(found.collection_id)
    return resolved


def save_peer(
    store: Store,
    private: Ed25519PrivateKey,
    name: str,
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    remote_collections: list[str] | None = None,
    tlp_max: TLP = DEFAULT_TLP_MAX,
    same_org: bool = False,
    redact: str = "none",
    ca_cert: str | None = None,
    replace: bool = False,
) -> Peer:
    """Create (or with ``replace`` overwrite the connection settings of) a peer."""
    name = name.strip()
    if not name:
        raise AccordError("a peer needs a name")
    if not url.startswith(("http://", "https://")):
        raise AccordError(f"peer URL must start with http:// or https://, got {url!r}")
    if password is not None and token is not None:
        raise AccordError("give either a password or a token, not both")
    if password is not None and not username:
        raise AccordError("a password needs --user")
    check_tlp_max(tlp_max, same_org)
    redact = check_profile(redact)
    if token is not None:
        kind, secret = "token", encrypt_secret(private, token)
    elif password is not None:
        kind, secret = "basic", encrypt_secret(private, password)
    else:
        kind, secret = "none", None
    values = {
        "url": url if url.endswith("/") else url + "/",
        "auth_kind": kind,
        "username": username if kind == "basic" else None,
        "secret": secret,
        "ca_cert": ca_cert,
        "remote_collections": json.dumps(remote_collections or []),
    }
    with store.transaction() as conn:
        exists_row = conn.execute(select(t.peers.c.name).where(t.peers.c.name == name)).first()
        if exists_row and not replace:
            raise AccordError(f"peer {name!r} already exists (use --replace to change it)")
        if exists_row:
            conn.execute(update(t.peers).where(t.peers.c.name == name).values(**values))
        else:
            conn.execute(
                insert(t.peers).values(
                    name=name,
                    tlp_max=int(tlp_max),
                    same_org=same_org,
                    redact=redact,
                    created_us=now_us(),
                    received=0,
                    stored=0,
                    duplicates=0,
                    quarantined=0,
                    flagged=0,
                    pushed=0,
                    **values,
                )
            )
    return get_peer(store, name)


def set_policy(
    store: Store,
    name: str,
    *,
    tlp_max: TLP | None = None,
    same_org: bool | None = None,
    collections: list[str] | None = None,
    redact: str | None = None,
) -> Peer:
    """Change what a peer may read; unset arguments keep their value."""
    peer = get_peer(store, name)
    level = tlp_max if tlp_max is not None else peer.tlp_max
    org = same_org if same_org is not None else peer.same_org
    check_tlp_max(level, org)
    values: dict[str, Any] = {"tlp_max": int(level), "same_org": org}
    if redact is not None:
        values["redact"] = check_profile(redact)
    with store.transaction() as conn:
        conn.execute(update(t.peers).where(t.peers.c.name == name).values(**values))
        if collections is not None:
            ids = _resolve_collections(conn, collections)
            conn.execute(delete(t.grants).where(t.grants.c.peer_name == name))
            for cid in dict.fromkeys(ids):
                conn.execute(insert(t.grants).values(peer_name=name, collection_id=cid))
    return get_peer(store, name)


def grant(store: Store, name: str, collections: list[str]) -> Peer:
    """Add collections to what a peer may read (keeping the ones it has)."""
    peer = get_peer(store, name)
    return set_policy(store, name, collections=[*peer.grants, *collections])


def pin_identity(store: Store, name: str, identity_id: str | None, key_id: str) -> None:
    with store.transaction() as conn:
        conn.execute(
            update(t.peers)
            .where(t.peers.c.name == name)
            .values(identity_id=identity_id, key_id=key_id)
        )


def remove_peer(store: Store, name: str) -> None:
    get_peer(store, name)
    with store.transaction() as conn:
        for table in (t.grants, t.cursors, t.tokens):
            conn.execute(delete(table).where(table.c.peer_name == name))
        conn.execute(delete(t.peers).where(t.peers.c.name == name))


def reencrypt_secrets(store: Store, old: Ed25519PrivateKey, new: Ed25519PrivateKey) -> None:
    """Re-encrypt every stored peer credential under a new node key (key rotation)."""
    with store.transaction() as conn:
        for name, secret in conn.execute(select(t.peers.c.name, t.peers.c.secret)).all():
            if secret:
                plain = decrypt_secret(old, secret)
                conn.execute(
                    update(t.peers)
                    .where(t.peers.c.name == name)
                    .values(secret=encrypt_secret(new, plain))
                )
