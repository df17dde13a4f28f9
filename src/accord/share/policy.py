"""The sharing rules that no policy can override, and the per-peer ceiling on top of them.

* TLP:RED never leaves the node by any automated path;
* TLP:AMBER+STRICT goes only to peers marked as the same organisation;
* everything else goes up to the peer's ``tlp_max``;
* unmarked data is handled at the node default and is not shared: an object whose index
  level *is* the node default and that carries no TLP marking of its own stays home.

The level compared is ``objects.tlp``, each version's effective TLP as the store computed it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select

from accord.model.errors import AccordError
from accord.model.tlp import MARKING_LEVEL, TLP
from accord.share.sqlutil import unindexed
from accord.store import schema as s

DEFAULT_TLP_MAX = TLP.GREEN
REDACTION_PROFILES = ("none", "standard", "strict")


@dataclass(frozen=True, slots=True)
class Ceiling:
    """What one peer may receive, by TLP."""

    tlp_max: TLP
    same_org: bool = False

    def allows(self, level: TLP) -> bool:
        if level is TLP.RED:
            return False
        if level is TLP.AMBER_STRICT and not self.same_org:
            return False
        return level <= self.tlp_max

    @property
    def levels(self) -> list[TLP]:
        return [level for level in TLP if self.allows(level)]


def check_tlp_max(level: TLP, same_org: bool) -> None:
    """Refuse ceilings that the fixed rules make meaningless or dangerous."""
    if level is TLP.RED:
        raise AccordError("TLP:RED never leaves the node; choose GREEN, AMBER or AMBER+STRICT")
    if level is TLP.AMBER_STRICT and not same_org:
        raise AccordError(
            "TLP:AMBER+STRICT goes only to the same organisation: add --same-org for this peer"
        )


def check_profile(profile: str) -> str:
    name = profile.strip().lower()
    if name not in REDACTION_PROFILES:
        raise AccordError(
            f"unknown redaction profile {profile!r} (choose {', '.join(REDACTION_PROFILES)})"
        )
    return name


def _has_tlp_marking() -> ColumnElement[bool]:
    return exists(
        select(s.object_markings.c.row_id).where(
            s.object_markings.c.row_id == s.objects.c.row_id,
            s.object_markings.c.marking_ref.in_(sorted(MARKING_LEVEL)),
        )
    )


def sql_clause(ceiling: Ceiling, node_default: TLP) -> ColumnElement[bool]:
    """A WHERE clause over ``objects`` selecting the versions this ceiling lets out."""
    levels = [int(level) for level in ceiling.levels]
    clause: ColumnElement[bool] = unindexed(s.objects.c.tlp).in_(levels)
    if ceiling.allows(node_default):
        unmarked = and_(
            unindexed(s.objects.c.tlp) == int(node_default),
            s.objects.c.type != "marking-definition",
            not_(_has_tlp_marking()),
        )
        clause = and_(clause, not_(unmarked))
    return clause


def is_unmarked(obj_tlp: TLP, has_tlp_marking: bool, node_default: TLP, obj_type: str) -> bool:
    """The Python twin of the unmarked rule in :func:`sql_clause` (for checks and tests)."""
    return obj_tlp == node_default and not has_tlp_marking and obj_type != "marking-definition"


def or_all(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*clauses) if len(clauses) > 1 else clauses[0]
