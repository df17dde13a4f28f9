"""A node's home: configuration, STIX identity, Ed25519 key pair and database URL.

Layout::

    <home>/config.toml         node name, defaults, database URL
    <home>/identity.json       this node's STIX identity (created_by_ref of what it creates)
    <home>/keys/node.key       Ed25519 private key, PEM, mode 0600
    <home>/keys/node.pub       Ed25519 public key, PEM
    <home>/accord.db           the SQLite store (default; any postgresql:// URL instead)

The home comes from ``--home``, else ``ACCORD_HOME``, else ``$XDG_DATA_HOME/accord``
(``~/.local/share/accord``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from accord.model.errors import AccordError
from accord.model.stix import is_identifier
from accord.model.timestamps import format_millis, now_utc
from accord.model.tlp import TLP
from accord.store.db import normalize_url
from accord.store.store import Store

CONFIG_FILE = "config.toml"
IDENTITY_FILE = "identity.json"


def default_home() -> Path:
    env = os.environ.get("ACCORD_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "accord"


@dataclass
class NodeConfig:
    name: str
    identity_id: str
    database_url: str
    country: str | None = None
    sector: str | None = None
    default_tlp: TLP = TLP.AMBER
    export_tlp_max: TLP = TLP.AMBER
    extra: dict[str, Any] = field(default_factory=dict)

    def to_toml(self) -> str:
        def q(value: str) -> str:
            return json.dumps(value, ensure_ascii=False)

        lines = ["[node]", f"name = {q(self.name)}", f"identity_id = {q(self.identity_id)}"]
        if self.country:
            lines.append(f"country = {q(self.country)}")
        if self.sector:
            lines.append(f"sector = {q(self.sector)}")
        lines += [
            "# TLP applied to data that arrives without a marking (and no --tlp at import)",
            f"default_tlp = {q(self.default_tlp.label.lower())}",
            "# highest TLP that `accord export` writes unless --tlp-max says otherwise",
            f"export_tlp_max = {q(self.export_tlp_max.label.lower())}",
            "",
            "[store]",
            f"url = {q(self.database_url)}",
            "",
        ]
        return "\n".join(lines)

    @classmethod
    def from_toml(cls, text: str, source: str) -> NodeConfig:
        try:
            data = tomllib.loads(text)
            node, store = data["node"], data["store"]
            return cls(
                name=node["name"],
                identity_id=node["identity_id"],
                database_url=store["url"],
                country=node.get("country"),
                sector=node.get("sector"),
                default_tlp=TLP.parse(node.get("default_tlp", "amber")),
                # `accord export` caps this at AMBER+STRICT: RED never leaves by default.
                export_tlp_max=TLP.parse(node.get("export_tlp_max", "amber")),
                extra={k: v for k, v in data.items() if k not in ("node", "store")},
            )
        except (tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
            raise AccordError(f"{source}: invalid node configuration: {exc}") from None


def _open_new_store(url: str, default_tlp: TLP) -> Store:
    try:
        return Store.open(url, default_tlp)
    except SQLAlchemyError as exc:
        shown = make_url(normalize_url(url)).render_as_string(hide_password=True)
        reason = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()[0]
        raise AccordError(f"cannot open the store at {shown}: {reason}") from None


def key_id(public_raw: bytes) -> str:
    """Key id: first 16 bytes of SHA-256 over the raw public key, hex."""
    return hashlib.sha256(public_raw).hexdigest()[:32]


class NodeHome:
    """An initialised node home on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        config_path = self.path / CONFIG_FILE
        if not config_path.exists():
            raise AccordError(
                f"no accord node at {self.path} (run `accord init --name NAME` or set ACCORD_HOME)"
            )
        self.config = NodeConfig.from_toml(config_path.read_text("utf-8"), str(config_path))

    @property
    def identity(self) -> dict[str, Any]:
        return json.loads((self.path / IDENTITY_FILE).read_text("utf-8"))

    @property
    def identity_id(self) -> str:
        return self.config.identity_id

    def private_key(self) -> Ed25519PrivateKey:
        data = (self.path / "keys" / "node.key").read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise AccordError(f"{self.path / 'keys' / 'node.key'}: not an Ed25519 private key")
        return key

    def open_store(self) -> Store:
        return Store.open(self.config.database_url, self.config.default_tlp)

    def save_config(self) -> None:
        (self.path / CONFIG_FILE).write_text(self.config.to_toml(), "utf-8")

    @classmethod
    def init(
        cls,
        path: Path,
        name: str,
        *,
        country: str | None = None,
        sector: str | None = None,
        database_url: str | None = None,
        default_tlp: TLP = TLP.AMBER,
        identity_id: str | None = None,
    ) -> NodeHome:
        """Create a node home, its identity and key pair, and the store schema.

        Refuses to overwrite an existing node: a node's identity and keys are what peers pin.
        ``identity_id`` lets an organisation keep the STIX identity id it already publishes
        (and the example case reproduce its nodes); by default a new one is minted.
        """
        path = Path(path).expanduser()
        if (path / CONFIG_FILE).exists():
            raise AccordError(f"{path} already holds an accord node; choose another --home")
        if country is not None and (len(country) != 2 or not country.isalpha()):
            raise AccordError(f"--country must be an ISO 3166-1 alpha-2 code, got {country!r}")
        if identity_id is not None and not is_identifier(identity_id, "identity"):
            raise AccordError(f"not an identity id: {identity_id!r}")
        path.mkdir(parents=True, exist_ok=True)
        url = database_url or f"sqlite:///{(path / 'accord.db').resolve()}"
        # Open (and migrate) the store before writing anything else: an unreachable
        # database must not leave a half-made home that blocks the retry.
        store = _open_new_store(url, default_tlp)
        keys = path / "keys"
        keys.mkdir(exist_ok=True)
        private = Ed25519PrivateKey.generate()
        private_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = private.public_key()
        public_raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        key_file = keys / "node.key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        (keys / "node.pub").write_bytes(
            public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        identity_id = identity_id or f"identity--{uuid.uuid4()}"
        stamp = format_millis(now_utc())
        identity: dict[str, Any] = {
            "type": "identity",
            "spec_version": "2.1",
            "id": identity_id,
            "created_by_ref": identity_id,
            "created": stamp,
            "modified": stamp,
            "name": name,
            "identity_class": "organization",
            "x_accord_public_key": base64.b64encode(public_raw).decode(),
            "x_accord_key_id": key_id(public_raw),
        }
        if sector:
            identity["sectors"] = [sector]
        if country:
            identity["x_accord_country"] = country.upper()
        (path / IDENTITY_FILE).write_text(json.dumps(identity, indent=2) + "\n", "utf-8")
        config = NodeConfig(
            name=name,
            identity_id=identity_id,
            database_url=url,
            country=country.upper() if country else None,
            sector=sector,
            default_tlp=default_tlp,
        )
        (path / CONFIG_FILE).write_text(config.to_toml(), "utf-8")
        with store:
            # The identity is public by design: peers need it to check signatures.
            store.put_objects([identity], "node", "init", import_tlp=TLP.CLEAR)
        return cls(path)
