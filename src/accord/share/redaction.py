"""Redaction profiles: strip what must not cross a border before an object leaves.

A profile looks at one object (and at the objects it references) and decides:

* **pass**: nothing sensitive, the object leaves as it is;
* **withhold**: the object *is* the sensitive thing (a victim's identity, a person's
  account or address, an internal host or RFC 1918 address, a note marked internal, a
  pattern naming internal infrastructure, a relationship to any of those): it stays home;
* **derive**: the object carries sensitive parts. It leaves as a **new object** (a new,
  deterministic id, ``created_by_ref`` this node) with those parts removed, plus a
  ``derived-from`` relationship to the original, as STIX requires of re-publishers. The
  original is never silently altered under its own id.

Profiles: ``none``; ``standard`` (victims, personal data, internal hosts and addresses,
internal notes); ``strict`` (also every sighting location, identity contact details and
incident record counts).

Whatever the profile, even ``none``, an object never leaves carrying the id of a stored
object that the audience may not see (above its TLP ceiling, or kept home by the fixed
sharing rules): an id alone says that the object exists, and a relationship or sighting
says what it is about. Objects whose required references point at such objects are
withheld; ids in optional ``*_refs`` lists and optional ``*_ref`` properties are removed in
a derived copy, exactly like redacted data. Ids of objects that are not stored here at all
are left alone: nothing is known about them that could leak.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from accord.model.incident import INCIDENT_TIMELINE_EXTENSION_ID
from accord.model.stix import SCO_TYPES, is_versioned
from accord.share.signing import PUBLIC_KEY, SIGNATURE_PROPS
from accord.store.prepare import reference_rows

REDACTION_NAMESPACE = uuid.UUID("5e0f3c2a-6a53-4f0e-9d8f-2b9f3e0d7a41")
REDACTED = "[redacted]"
DEFAULT_INTERNAL_SUFFIXES = (
    "local",
    "internal",
    "intranet",
    "lan",
    "corp",
    "home.arpa",
    "localdomain",
    "intra",
    "private",
)
_INTERNAL_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?:/\d{1,2})?(?![\d.])")
_HOST = re.compile(r"(?<![\w.\-@])([A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.)+[A-Za-z0-9\-]{2,63})")
_SKIP_KEYS = frozenset(
    {"id", "type", "spec_version", "created", "modified", "pattern", "hashes", "pattern_type"}
)
_RECIPIENT_PROPS = ("to_refs", "cc_refs", "bcc_refs")
_REQUIRED_REFS = frozenset({"source_ref", "target_ref", "sighting_of_ref", "object_ref"})
HIDDEN_REASON = "above this audience's TLP ceiling"


class Lookup(Protocol):
    """What a profile needs to know about the objects around the one it judges."""

    def objects(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Current versions of the given ids that exist in the store."""
        ...

    def victims(self, identity_ids: Iterable[str]) -> set[str]:
        """Identities that something targets or where something was sighted."""
        ...

    def recipients(self, address_ids: Iterable[str]) -> set[str]:
        """email-addr ids that some email-message lists as a recipient."""
        ...

    def hidden(self, ids: Iterable[str]) -> set[str]:
        """Stored ids this audience may not see (the current version is above its ceiling
        or kept home by the fixed rules); ids not stored at all are never in the result."""
        ...

    def fingerprint(self, ids: Sequence[str]) -> str:
        """A digest of ``ids`` keyed with a secret of this node: equal for equal lists, and
        useless to anyone testing a guess of which ids an object leaves out."""
        ...


@dataclass(frozen=True, slots=True)
class Outcome:
    action: str  # pass | withhold | derive
    reason: str = ""
    derived: dict[str, Any] | None = None
    relationship: dict[str, Any] | None = None


PASS = Outcome("pass")


def is_internal_ip(text: str) -> bool:
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return False
    return any(net.version == n.version and net.subnet_of(n) for n in _INTERNAL_NETS)  # type: ignore[arg-type]


_NOT_A_REF = object()  # the property is not a reference: scrub or keep it as it is
_DROPPED = object()  # every id it held is withheld: leave the property out
_WITHHOLD = object()  # the object cannot stand without it: withhold the object


def _pruned_ref(key: str, value: Any, withheld: Mapping[str, str]) -> Any:
    """A ``*_ref``/``*_refs`` property without the withheld ids: the kept value, or one of
    the markers above. A report whose ``object_refs`` all go is withheld whole."""
    if key.endswith("_refs") and isinstance(value, list) and key != "object_marking_refs":
        kept = [v for v in value if v not in withheld]
        if kept:
            return kept
        return _WITHHOLD if key == "object_refs" else _DROPPED
    if key.endswith("_ref") and isinstance(value, str):
        return _DROPPED if value in withheld else value
    return _NOT_A_REF


class Profile:
    """One redaction profile, bound to this node's identity and internal domains."""

    def __init__(self, name: str, node_identity: str, internal_domains: Iterable[str] = ()):
        self.name = name
        self.node_identity = node_identity
        suffixes = [*DEFAULT_INTERNAL_SUFFIXES, *(d.strip(".").lower() for d in internal_domains)]
        self.suffixes = tuple(dict.fromkeys(s for s in suffixes if s))

    @property
    def active(self) -> bool:
        return self.name != "none"

    # -- what counts as sensitive -------------------------------------------------------

    def is_internal_host(self, name: str) -> bool:
        host = name.strip().lower().rstrip(".")
        if not host:
            return False
        if "." not in host:
            return True
        return any(host == s or host.endswith("." + s) for s in self.suffixes)

    def _is_internal_email(self, address: str) -> bool:
        return self.is_internal_host(address.rpartition("@")[2])

    def scrub_text(self, text: str) -> str:
        """Replace email addresses, internal addresses and internal host names in text."""
        out = _EMAIL.sub(REDACTED, text)
        out = _IPV4.sub(lambda m: REDACTED if is_internal_ip(m.group(1)) else m.group(0), out)
        return _HOST.sub(
            lambda m: REDACTED if self._host_token_internal(m.group(1)) else m.group(0), out
        )

    def _host_token_internal(self, token: str) -> bool:
        low = token.lower()
        return any(low == s or low.endswith("." + s) for s in self.suffixes)

    def pattern_is_internal(self, pattern: str) -> bool:
        for value in re.findall(r"'((?:[^'\\]|\\.)*)'", pattern):
            if is_internal_ip(value) or (
                _EMAIL.fullmatch(value) and self._is_internal_email(value)
            ):
                return True
            if (
                re.fullmatch(r"[A-Za-z0-9.\-]+", value)
                and "." in value
                and self._host_token_internal(value)
            ):
                return True
            host = re.match(r"^[a-z]+://([^/:]+)", value)
            if host and (is_internal_ip(host.group(1)) or self.is_internal_host(host.group(1))):
                return True
        return False

    # -- judging one object -------------------------------------------------------------

    def self_reason(self, obj: Mapping[str, Any], lookup: Lookup | None = None) -> str:
        """Why ``obj`` itself must stay home, or "" (looking at the object alone)."""
        if not self.active:
            return ""
        obj_type = obj.get("type")
        labels = obj.get("labels") or []
        if obj.get("x_accord_internal") is True or "internal" in labels:
            return "marked internal"
        if obj_type == "identity":
            if obj.get("id") == self.node_identity or PUBLIC_KEY in obj:
                return ""
            if obj.get("identity_class") == "individual":
                return "personal data (a person's identity)"
            if obj.get("x_accord_victim") is True:
                return "victim identity"
            if self.name == "strict" and obj.get("identity_class") not in ("organization", "class"):
                return "identity (strict profile)"
            if lookup is not None and obj.get("id") in lookup.victims([str(obj.get("id"))]):
                return "victim identity"
            return ""
        if obj_type == "user-account":
            return "personal data (user account)"
        if obj_type == "email-addr":
            value = str(obj.get("value", ""))
            if self._is_internal_email(value):
                return "internal email address"
            if obj.get("display_name"):
                return "personal data (a person's name with an address)"
            if lookup is not None and obj.get("id") in lookup.recipients([str(obj.get("id"))]):
                return "personal data (an affected person's address)"
            return ""
        if obj_type == "email-message" and any(obj.get(p) for p in _RECIPIENT_PROPS):
            return "personal data (message recipients)"
        if obj_type in ("ipv4-addr", "ipv6-addr") and is_internal_ip(str(obj.get("value", ""))):
            return "internal address (RFC 1918 or local)"
        if obj_type == "domain-name" and self.is_internal_host(str(obj.get("value", ""))):
            return "internal host name"
        if obj_type == "url":
            host = re.match(r"^[a-z]+://([^/:]+)", str(obj.get("value", "")))
            if host and (is_internal_ip(host.group(1)) or self.is_internal_host(host.group(1))):
                return "URL of an internal host"
        if obj_type == "indicator" and self.pattern_is_internal(str(obj.get("pattern", ""))):
            return "pattern names internal infrastructure or people"
        return ""

    def judge(self, obj: Mapping[str, Any], lookup: Lookup) -> Outcome:
        """Decide pass, withhold or derive for one object version.

        The ``none`` profile redacts nothing, but still applies the reference rule (see the
        module docstring): what is hidden from the audience must not be named to it.
        """
        if obj.get("type") == "marking-definition":
            return PASS
        if self.active:
            reason = self.self_reason(obj, lookup)
            if reason:
                return Outcome("withhold", reason)
        refs = referenced_ids(obj)
        if not refs and not self.active:
            return PASS
        withheld: dict[str, str] = {}
        hidden: set[str] = set()
        if refs:
            hidden = lookup.hidden(refs)
            withheld = dict.fromkeys(sorted(hidden), HIDDEN_REASON)
            if self.active:
                visible = [r for r in refs if r not in hidden]
                for ref_id, target in lookup.objects(visible).items():
                    why = self.self_reason(target, lookup)
                    if why:
                        withheld[ref_id] = why
        for prop in _REQUIRED_REFS:
            target = obj.get(prop)
            if isinstance(target, str) and target in withheld:
                return Outcome("withhold", f"{prop} points at withheld data ({withheld[target]})")
        if obj.get("type") in SCO_TYPES:
            return PASS if not withheld else Outcome("withhold", "refers to withheld data")
        if not self.active and not withheld:
            return PASS
        changed, new = self._strip(obj, withheld)
        if new is None:
            return Outcome("withhold", "nothing would remain after redaction")
        if not changed:
            return PASS
        return self._derive(obj, new, lookup.fingerprint(sorted(hidden)) if hidden else "")

    def _strip(
        self, obj: Mapping[str, Any], withheld: Mapping[str, str]
    ) -> tuple[bool, dict[str, Any] | None]:
        """A copy without the withheld references and, unless the profile is ``none``,
        without the sensitive parts; whether anything changed (None: nothing would remain).
        """
        if not self.active:
            return self._strip_refs(obj, withheld)
        changed = False
        new: dict[str, Any] = {}
        for key, value in obj.items():
            if key in SIGNATURE_PROPS:
                continue
            if key.startswith("x_accord_internal"):
                changed = True
                continue
            if key == "where_sighted_refs" and self.name == "strict":
                changed = True
                continue
            pruned = _pruned_ref(key, value, withheld)
            if pruned is not _NOT_A_REF:
                if pruned is _WITHHOLD:
                    return True, None
                changed = changed or pruned != value
                if pruned is not _DROPPED:
                    new[key] = pruned
                continue
            if key == "contact_information" and self.name == "strict":
                changed = True
                continue
            if key in _SKIP_KEYS or key.endswith(("_ref", "_refs")):
                new[key] = value
                continue
            scrubbed = self._scrub_value(value)
            if scrubbed != value:
                changed = True
            new[key] = scrubbed
        if self.name == "strict":
            ext = (new.get("extensions") or {}).get(INCIDENT_TIMELINE_EXTENSION_ID)
            if isinstance(ext, dict) and "records_affected" in ext:
                new["extensions"] = {
                    **new["extensions"],
                    INCIDENT_TIMELINE_EXTENSION_ID: {
                        k: v for k, v in ext.items() if k != "records_affected"
                    },
                }
                changed = True
        return changed, new

    @staticmethod
    def _strip_refs(
        obj: Mapping[str, Any], withheld: Mapping[str, str]
    ) -> tuple[bool, dict[str, Any] | None]:
        """References alone (the ``none`` profile): everything else is kept as it is."""
        changed = False
        new: dict[str, Any] = {}
        for key, value in obj.items():
            if key in SIGNATURE_PROPS:
                continue
            pruned = _pruned_ref(key, value, withheld)
            if pruned is _WITHHOLD:
                return True, None
            if pruned is _NOT_A_REF:
                new[key] = value
                continue
            changed = changed or pruned != value
            if pruned is not _DROPPED:
                new[key] = pruned
        return changed, new

    def _scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, list):
            return [self._scrub_value(v) for v in value]
        if isinstance(value, dict):
            return {
                k: (v if k in _SKIP_KEYS or k.endswith(("_ref", "_refs")) else self._scrub_value(v))
                for k, v in value.items()
            }
        return value

    def derived_id(self, original_id: str, role: str = "object", without: str = "") -> str:
        """The deterministic id of a derived copy (or of its derived-from relationship).

        ``without``: the keyed fingerprint of the hidden ids the copy leaves out. Audiences
        with different ceilings get different copies of one original, so what was left out
        is part of the seed (one id must never stand for two contents: a receiver of both
        would see a version conflict). It is keyed because the seed of a uuid5 can be
        tested: with the ids themselves in it, a peer could confirm a guess of what is
        hidden from it.
        """
        obj_type = original_id.partition("--")[0] if role == "object" else "relationship"
        seed = f"{self.node_identity}|{self.name}|{original_id}|{role}"
        if without:
            seed += "|without|" + without
        return f"{obj_type}--{uuid.uuid5(REDACTION_NAMESPACE, seed)}"

    def _derive(
        self, original: Mapping[str, Any], stripped: dict[str, Any], without: str
    ) -> Outcome:
        original_id = str(original["id"])
        derived = dict(stripped)
        derived["id"] = self.derived_id(original_id, without=without)
        derived["created_by_ref"] = self.node_identity
        derived["x_accord_redaction"] = self.name if self.active else "references"
        markings = {k: original[k] for k in ("object_marking_refs",) if original.get(k)}
        stamp = original.get("modified") or original.get("created")
        relationship: dict[str, Any] = {
            "type": "relationship",
            "spec_version": "2.1",
            "id": self.derived_id(original_id, "derived-from", without),
            "created": original.get("created", stamp),
            "modified": stamp,
            "relationship_type": "derived-from",
            "source_ref": derived["id"],
            "target_ref": original_id,
            "created_by_ref": self.node_identity,
            "description": (
                f"Redacted ({self.name} profile) before sharing."
                if self.active
                else "References the recipient may not see removed before sharing."
            ),
            **markings,
        }
        if not is_versioned(original):
            relationship["created"] = relationship["modified"] = stamp
        return Outcome("derive", "redacted", derived, relationship)


def referenced_ids(obj: Mapping[str, Any]) -> list[str]:
    """Ids an object points at through its top-level ``*_ref``/``*_refs`` properties, except
    its markings and its creator (which say who vouches for it, not what it is about): the
    store's own reading of references (:func:`accord.store.prepare.reference_rows`, whose
    per-key decisions are memoised; this runs for every object a peer reads)."""
    rows = reference_rows(obj)
    if not rows:
        return []
    return list(dict.fromkeys(target for _, target in rows))
