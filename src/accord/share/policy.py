"""The sharing rules that no policy can override, and the per-peer ceiling on top of them.

* TLP:RED never leaves the node by any automated path;
* TLP:AMBER+STRICT goes only to peers marked as the same organisation;
* TLP:AMBER that this node did not create (``created_by_ref`` absent or another identity)
  goes only to peers marked as the same organisation: TLP 2.0 lets a *recipient* share AMBER
  within its own organisation and its clients, never on to other organisations; only the
  source may widen that circle, and this node is the source of its own AMBER alone;
* everything else goes up to the peer's ``tlp_max``;
* unmarked data is handled at the node default and is not shared: an object whose level
  came from the node default (no TLP marking of its own, no level given at import; the
  store records it when writing, ``objects.tlp_default``) stays home, whatever the node
  default is later changed to.

The level compared is ``objects.tlp``, each version's effective TLP as the store computed it.
:func:`sql_clause` and :meth:`Ceiling.allows` are twins: the view applies the first in SQL
and the second again per row, so a slip in one does not let anything out.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import ColumnElement, FromClause, and_, not_, or_

from accord.model.errors import AccordError
from accord.model.tlp import TLP
from accord.share.sqlutil import unindexed
from accord.store import schema as s

DEFAULT_TLP_MAX = TLP.GREEN
REDACTION_PROFILES = ("none", "standard", "strict")


@dataclass(frozen=True, slots=True)
class Ceiling:
    """What one peer may receive, by TLP."""

    tlp_max: TLP
    same_org: bool = False

    def allows(self, level: TLP, *, third_party: bool = False) -> bool:
        """Whether a version at ``level`` may go to this peer.

        ``third_party``: the version was not created by this node (its ``created_by_ref`` is
        absent or another identity). This node only *received* such AMBER, and a recipient
        may pass AMBER on within its own organisation only.
        """
        if level is TLP.RED:
            return False
        if level >= TLP.AMBER and third_party and not self.same_org:
            return False
        if level is TLP.AMBER_STRICT and not self.same_org:
            return False
        return level <= self.tlp_max

    def allows_row(self, level: TLP, created_by_ref: str | None, node_identity: str) -> bool:
        """:meth:`allows` for a stored version, judging its creator against this node."""
        return self.allows(level, third_party=created_by_ref != node_identity)

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


@functools.lru_cache(maxsize=256)
def sql_clause(
    ceiling: Ceiling, node_identity: str, table: FromClause = s.objects
) -> ColumnElement[bool]:
    """A WHERE clause over ``objects`` (or an alias of it) selecting the versions this
    ceiling lets out: the SQL twin of :meth:`Ceiling.allows_row` plus the unmarked rule.
    Cached: every page a peer reads asks for it, and SQL expressions are immutable."""
    levels = [int(level) for level in ceiling.levels]
    clause: ColumnElement[bool] = unindexed(table.c.tlp).in_(levels)
    if TLP.AMBER in ceiling.levels and not ceiling.same_org:
        # Third-party AMBER (no creator, or another one) is only relayed within the org.
        creator = table.c.created_by_ref
        own = and_(creator.is_not(None), unindexed(creator) == node_identity)
        clause = and_(clause, or_(unindexed(table.c.tlp) != int(TLP.AMBER), own))
    # unmarked data stays home (applied whatever the ceiling: its level is the node default
    # of the day it was written, which need not be today's)
    return and_(clause, not_(table.c.tlp_default))


def is_unmarked(tlp_default: bool) -> bool:
    """The Python twin of the unmarked rule in :func:`sql_clause` (for checks and tests):
    the stored level came from the node default."""
    return bool(tlp_default)


def or_all(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*clauses) if len(clauses) > 1 else clauses[0]
