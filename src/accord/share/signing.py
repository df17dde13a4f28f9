"""Signed provenance: Ed25519 over the RFC 8785 (JCS) canonical JSON of an object.

A node signs what it created when it leaves the node; relays pass other creators' objects
on untouched, so a receiver two hops away still checks the original author's signature.

* ``x_accord_signature``: base64 Ed25519 signature over the canonical JSON of the object
  without ``x_accord_signature`` and ``x_accord_rotation_signature``;
* ``x_accord_key_id``: which key signed (first 16 bytes of SHA-256 of the raw public key);
* an identity that publishes ``x_accord_public_key`` is self-signed with that key, and a
  rotated identity also carries ``x_accord_rotation_signature`` by its previous key, so a
  receiver can move its trust from the old key to the new one without a human in between.

Receivers trust keys pinned by the operator, keys learnt on first use (TOFU) from a
self-signed identity, and keys that a trusted key handed over by rotation. Old keys stay in
the key ring, so objects signed before a rotation stay verifiable.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, select

from accord.model.errors import AccordError
from accord.model.timestamps import format_millis, now_utc, stix_micros
from accord.model.tlp import TLP
from accord.share import tables as t
from accord.share.sqlutil import insert_ignore, now_us
from accord.store.home import IDENTITY_FILE, NodeHome, key_id
from accord.store.store import Store

SIGNATURE = "x_accord_signature"
KEY_ID = "x_accord_key_id"
ROTATION = "x_accord_rotation_signature"
PUBLIC_KEY = "x_accord_public_key"
PREVIOUS_KEYS = "x_accord_previous_key_ids"
_EXCLUDED = frozenset({SIGNATURE, ROTATION})
# Properties that differ between two signings of the same version (for example before and
# after a key rotation): two bodies equal apart from these are the same version.
SIGNATURE_PROPS = frozenset({SIGNATURE, ROTATION, KEY_ID})


def canonical(obj: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of ``obj`` without its signature properties."""
    return rfc8785.dumps({k: v for k, v in obj.items() if k not in _EXCLUDED})


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def same_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal apart from signature properties: the same version, signed differently."""
    strip = SIGNATURE_PROPS
    return {k: v for k, v in a.items() if k not in strip} == {
        k: v for k, v in b.items() if k not in strip
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def sign_with(obj: Mapping[str, Any], private: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    """A copy of ``obj`` carrying ``kid`` and the signature by ``private`` over it."""
    out = {k: v for k, v in obj.items() if k != SIGNATURE}
    out[KEY_ID] = kid
    out[SIGNATURE] = _b64(private.sign(canonical(out)))
    return out


class Signer:
    """This node's signing keys: the current one and every archived (rotated-out) one."""

    def __init__(self, identity_id: str, current: Ed25519PrivateKey, archive: dict[str, Any]):
        self.identity_id = identity_id
        self.current = current
        self.current_kid = key_id(public_raw(current.public_key()))
        self.keys: dict[str, Ed25519PrivateKey] = {self.current_kid: current, **archive}

    @classmethod
    def from_home(cls, home: NodeHome) -> Signer:
        archive: dict[str, Ed25519PrivateKey] = {}
        folder = home.path / "keys" / "archive"
        if folder.is_dir():
            for path in sorted(folder.glob("*.key")):
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
                if isinstance(key, Ed25519PrivateKey):
                    archive[key_id(public_raw(key.public_key()))] = key
        return cls(home.identity_id, home.private_key(), archive)

    def sign_own(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Sign an object this node created.

        An identity publishing a key is signed by that very key (it is what ties the key to
        the identity); everything else by the current key.
        """
        kid = self.current_kid
        if PUBLIC_KEY in obj and obj.get(KEY_ID) in self.keys:
            kid = obj[KEY_ID]
        return sign_with(obj, self.keys[kid], kid)


@dataclass(frozen=True, slots=True)
class TrustedKey:
    key_id: str
    identity_id: str
    public_key: bytes
    source: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking one object's signature."""

    status: str  # valid | invalid | unsigned | unknown-key
    key_id: str | None = None
    signer: str | None = None
    reason: str = ""
    key_source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "key_id": self.key_id,
            "signer": self.signer,
            "reason": self.reason,
            "key_source": self.key_source,
        }


def creator_of(obj: Mapping[str, Any]) -> str | None:
    """Who vouches for an object: its creator, or an identity itself when self-published."""
    creator = obj.get("created_by_ref")
    if creator is None and obj.get("type") == "identity":
        return obj.get("id")
    return creator


class KeyRing:
    """Keys this node trusts, by key id (loaded from ``share_keys``)."""

    def __init__(self, keys: dict[str, TrustedKey] | None = None) -> None:
        self.keys: dict[str, TrustedKey] = dict(keys or {})

    @classmethod
    def load(cls, conn: Connection) -> KeyRing:
        ring = cls()
        for r in conn.execute(select(t.keys)):
            raw = _unb64(r.public_key)
            if raw is not None:
                ring.keys[r.key_id] = TrustedKey(r.key_id, r.identity_id, raw, r.source)
        return ring

    @classmethod
    def from_store(cls, store: Store) -> KeyRing:
        with store.engine.connect() as conn:
            return cls.load(conn)

    def for_identity(self, identity_id: str) -> list[TrustedKey]:
        return [k for k in self.keys.values() if k.identity_id == identity_id]

    def trust(self, conn: Connection, key: TrustedKey) -> None:
        """Remember a key (idempotent; the first source recorded for a key id stays)."""
        insert_ignore(
            conn,
            t.keys,
            [
                {
                    "key_id": key.key_id,
                    "identity_id": key.identity_id,
                    "public_key": _b64(key.public_key),
                    "source": key.source[:200],
                    "first_seen_us": now_us(),
                }
            ],
        )
        self.keys.setdefault(key.key_id, key)

    def verify(self, obj: Mapping[str, Any]) -> Verdict:
        signature = obj.get(SIGNATURE)
        kid = obj.get(KEY_ID)
        signer = creator_of(obj)
        if signature is None:
            return Verdict("unsigned", signer=signer)
        if not isinstance(kid, str):
            return Verdict("invalid", signer=signer, reason="a signature without a key id")
        raw = _unb64(signature)
        if raw is None or len(raw) != 64:
            return Verdict("invalid", kid, signer, "the signature is not base64 Ed25519")
        key = self.keys.get(kid)
        if key is None:
            return Verdict("unknown-key", kid, signer, f"no trusted key {kid}")
        if signer != key.identity_id:
            return Verdict(
                "invalid",
                kid,
                signer,
                f"signed with the key of {key.identity_id}, but the object names "
                f"{signer or 'no creator'} as its creator",
                key.source,
            )
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(raw, canonical(obj))
        except InvalidSignature:
            return Verdict(
                "invalid", kid, signer, "the signature does not match the content", key.source
            )
        return Verdict("valid", kid, signer, "", key.source)

    def learn_identity(self, conn: Connection, identity: Mapping[str, Any], source: str) -> str:
        """Consider the key an identity publishes; return "" when fine, else why it is refused.

        A new identity's key is trusted on first use when the identity is self-signed with it;
        a further key of a known identity only with a rotation signature by a key already
        trusted for it; anything else looks like impersonation and is refused.
        """
        published = identity.get(PUBLIC_KEY)
        if published is None:
            return ""
        raw = _unb64(published)
        if raw is None or len(raw) != 32:
            return "x_accord_public_key is not a base64 Ed25519 public key"
        kid = key_id(raw)
        if identity.get(KEY_ID) != kid:
            return f"x_accord_key_id does not match the published key (expected {kid})"
        ident = str(identity.get("id"))
        known = self.keys.get(kid)
        if known is not None:
            if known.identity_id != ident:
                return f"key {kid} already belongs to {known.identity_id}"
            return ""
        candidate = TrustedKey(kid, ident, raw, source)
        probe = KeyRing({kid: candidate})
        if probe.verify(identity).status != "valid":
            return "the identity is not signed by the key it publishes"
        previous = self.for_identity(ident)
        if previous:
            rotation = identity.get(ROTATION)
            if not isinstance(rotation, Mapping):
                return (
                    f"a new key for {ident}, which already has trusted keys, without a "
                    "rotation signature by one of them"
                )
            old = self.keys.get(str(rotation.get("key_id")))
            sig = _unb64(rotation.get("signature"))
            if old is None or old.identity_id != ident or sig is None:
                return "the rotation signature names no trusted key of this identity"
            try:
                Ed25519PublicKey.from_public_bytes(old.public_key).verify(sig, canonical(identity))
            except InvalidSignature:
                return "the rotation signature does not verify"
            candidate = TrustedKey(kid, ident, raw, f"rotation from {old.key_id}")
        self.trust(conn, candidate)
        return ""


def identity_key(identity: Mapping[str, Any]) -> TrustedKey | None:
    """The key an identity publishes, without any trust decision (for pinning)."""
    raw = _unb64(identity.get(PUBLIC_KEY))
    if raw is None or len(raw) != 32:
        return None
    return TrustedKey(key_id(raw), str(identity.get("id")), raw, "")


def ensure_own_keys(signer: Signer, store: Store) -> KeyRing:
    """Put this node's keys (current and archived) in its key ring; return the ring."""
    with store.transaction() as conn:
        ring = KeyRing.load(conn)
        for kid, private in signer.keys.items():
            if kid not in ring.keys:
                raw = public_raw(private.public_key())
                ring.trust(conn, TrustedKey(kid, signer.identity_id, raw, "self"))
    return ring


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def rotate_key(home: NodeHome, store: Store) -> dict[str, Any]:
    """Replace the node key; publish a new identity version that the old key vouches for.

    The old private key moves to ``keys/archive/`` (still needed to re-sign the identity
    versions that publish it), peers' stored secrets are re-encrypted under the new key, and
    the new identity version goes into the store. Returns that identity.
    """
    from accord.share.peers import reencrypt_secrets

    old = home.private_key()
    old_kid = key_id(public_raw(old.public_key()))
    identity = dict(home.identity)
    for prop in (SIGNATURE, ROTATION):
        identity.pop(prop, None)
    new = Ed25519PrivateKey.generate()
    new_raw = public_raw(new.public_key())
    stamp = now_utc()
    if stix_micros(format_millis(stamp)) <= stix_micros(identity["modified"]):
        from accord.model.timestamps import from_micros

        stamp = from_micros(stix_micros(identity["modified"]) + 1000)
    previous = [*identity.get(PREVIOUS_KEYS, []), old_kid]
    identity.update(
        {
            "modified": format_millis(stamp),
            PUBLIC_KEY: _b64(new_raw),
            KEY_ID: key_id(new_raw),
            PREVIOUS_KEYS: previous,
        }
    )
    identity[ROTATION] = {"key_id": old_kid, "signature": _b64(old.sign(canonical(identity)))}
    archive = home.path / "keys" / "archive"
    archive.mkdir(exist_ok=True)
    _write_private(archive / f"{old_kid}.key", old)
    reencrypt_secrets(store, old, new)
    _write_private(home.path / "keys" / "node.key", new)
    (home.path / "keys" / "node.pub").write_bytes(
        new.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (home.path / IDENTITY_FILE).write_text(json.dumps(identity, indent=2) + "\n", "utf-8")
    store.put_objects([identity], "node", "key-rotation", import_tlp=TLP.CLEAR)
    with store.transaction() as conn:
        KeyRing.load(conn).trust(
            conn, TrustedKey(key_id(new_raw), home.identity_id, new_raw, "self")
        )
    return identity


def load_key_argument(value: str) -> bytes:
    """A public key given on the command line: base64 raw, or a PEM file path."""
    path = Path(value)
    if path.is_file():
        key = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise AccordError(f"{value}: not an Ed25519 public key")
        return public_raw(key)
    raw = _unb64(value)
    if raw is None or len(raw) != 32:
        raise AccordError(f"{value!r} is neither a PEM file nor a base64 Ed25519 public key")
    return raw
