"""The TLP level of an attribution: the most restrictive of everything it shows or rests on.

A result quotes its evidence (indicator values, labels, sources) and names the objects
that carried it. If it were marked like the incident alone, a GREEN incident with one RED
indicator linked to it would carry that indicator to every GREEN peer inside the note or
the report. So the stored note, the HTML report and any other rendering take the maximum
of the effective TLP of every stored object the result names or rests on: TLP's
"high-water mark". That is

* the incident, every evidence object, every object that reported one (relationship,
  sighting, report) and the identity of every source quoted by name;
* the knowledge objects the evidence was resolved to (``EvidenceResult.rests_on``);
* every hypothesis' actor and the merged members whose names and aliases it shows;
* the knowledge each evidence-to-actor link rests on: the member or campaign, the
  ``uses``/``indicates``/``targets`` relationships, the indicator, software or
  infrastructure at the end (``rests_on`` of each weight and of each hypothesis);
* what the summary and the next steps quote beyond those (``AttributionResult.rests_on``).

Objects the store does not hold add nothing: a result cannot quote what was never there.

**Unmarked material stays home.** Data with no TLP marking of its own, handled at the
node default, is never shared by any automated path (``accord.share.policy``). A note or
opinion that quotes it must not become shareable by being written with an explicit
marking below RED, as the high-water mark of levels alone would do (an unmarked AMBER
indicator would give an explicitly AMBER note, which AMBER peers receive). Such a note is
marked **TLP:RED**; see :func:`tlp_markings` for why RED rather than no marking.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from accord.attribute.result import AttributionResult
from accord.model.tlp import TLP, TLP2_IDS, effective_tlp, level_of_markings, standard_marking
from accord.store import Store


def _stix_id(ref: str) -> str:
    """A result ref as a STIX id: refs made unique (one indicator naming two values is two
    items) carry ``#<feature>`` after the id."""
    return ref.split("#", 1)[0]


def cited_ids(result: AttributionResult) -> Iterator[str]:
    """Every STIX id the result shows or rests on (see the module docstring)."""
    yield result.incident
    for e in result.evidence:
        yield _stix_id(e.ref)
        yield from e.rests_on
        if e.implied_by:
            yield e.implied_by
        for source in e.sources:
            for key in ("ref", "identity"):
                if source.get(key):
                    yield str(source[key])
    for h in result.hypotheses:
        if h.actor_id:
            yield h.actor_id
        yield from h.members
        yield from h.rests_on
        for w in (*h.evidence_for, *h.evidence_against):
            yield _stix_id(w.ref)
            yield from w.rests_on
    for u in result.unresolved:
        if u.get("ref"):
            yield _stix_id(str(u["ref"]))
    yield from result.rests_on


def is_unmarked(obj: Mapping[str, Any], level: TLP, node_default: TLP) -> bool:
    """Whether an object *not in the store* (an overlay) would be unmarked data if it were
    imported: no object-level TLP marking of its own, so handled at the node default. A
    marking definition is never unmarked data. Stored objects carry the fact itself
    (``ObjectRow.tlp_default``, recorded when they were written)."""
    if obj.get("type") == "marking-definition":
        return False
    return level == node_default and level_of_markings(obj.get("object_marking_refs") or []) is None


@dataclass(frozen=True, slots=True)
class Handling:
    """How material resting on a set of stored objects must be handled.

    ``level`` is their highest effective TLP; ``unmarked`` the ids among them that the
    unmarked rule keeps home.
    """

    level: TLP
    unmarked: tuple[str, ...] = ()

    @property
    def stays_home(self) -> bool:
        return bool(self.unmarked)

    def markings(self, others: Iterable[str] = ()) -> list[str]:
        """``object_marking_refs`` for a STIX object this node writes with the material."""
        return tlp_markings(self.level, others, stays_home=self.stays_home)


def tlp_markings(level: TLP, others: Iterable[str] = (), *, stays_home: bool = False) -> list[str]:
    """``object_marking_refs`` for a STIX object this node writes: the standard TLP 2.0
    marking of ``level``, then ``others`` (non-TLP markings such as statements).

    ``stays_home``: the object quotes unmarked data, and is marked TLP:RED whatever
    ``level`` says. The other way to keep it home, writing it with no TLP marking so that
    it is itself "unmarked", holds only while the object's level equals the node default,
    and it need not: what it quotes may sit above the node default (an AMBER+STRICT object
    beside the unmarked one), the node default can change after the object is written, and
    ``accord export`` writes unmarked data at its default ceiling. RED is the one level no
    automated path lets out, under any rule, now or later. An analyst who wants the note
    shared marks the evidence it rests on and runs the attribution again.
    """
    tlp = TLP2_IDS[TLP.RED if stays_home else level]
    return [tlp, *(m for m in dict.fromkeys(others) if m != tlp)]


def handling(
    store: Store, ids: Iterable[str], overlay: Sequence[Mapping[str, Any]] = ()
) -> Handling:
    """The handling of material resting on ``ids``: stored objects at their effective TLP,
    and those of an ``overlay`` (a bundle attributed without being imported), which take
    their own marking or, unmarked, the node's default, as they would on import."""
    wanted = {i for i in ids if "--" in i}
    default = store.node_default_tlp
    levels: list[TLP] = []
    unmarked: set[str] = set()
    for obj in overlay:
        if obj.get("id") in wanted:
            level = effective_tlp(obj, None, default)
            levels.append(level)
            if is_unmarked(obj, level, default):
                unmarked.add(str(obj["id"]))
    for row in store.get_many(sorted(wanted)).values():
        levels.append(row.tlp)
        if row.tlp_default:  # recorded when written: whatever the node default is now
            unmarked.add(row.id)
    return Handling(max(levels, default=TLP.CLEAR), tuple(sorted(unmarked)))


def result_handling(
    store: Store,
    result: AttributionResult,
    overlay: Sequence[Mapping[str, Any]] = (),
    extra: Iterable[str] = (),
) -> Handling:
    """The handling of a result (and of ``extra`` ids quoted beside it)."""
    return handling(store, [*cited_ids(result), *extra], overlay)


def result_tlp(
    store: Store, result: AttributionResult, overlay: Sequence[Mapping[str, Any]] = ()
) -> TLP:
    """The highest effective TLP among the objects the result cites or rests on."""
    return result_handling(store, result, overlay).level


def other_markings(*objects: Mapping[str, Any]) -> list[str]:
    """The non-TLP object-level markings (statements, terms of use) of ``objects``: kept on
    whatever is written about them."""
    found: dict[str, None] = {}
    for obj in objects:
        for ref in obj.get("object_marking_refs") or []:
            if standard_marking(ref) is None:
                found.setdefault(ref)
    return list(found)


def result_markings(
    result: AttributionResult, incident: Mapping[str, Any], *, stays_home: bool = False
) -> list[str]:
    """``object_marking_refs`` for a STIX object that carries the result: the result's TLP
    in place of the incident's, the incident's other markings (statements…) kept; TLP:RED
    when the result ``stays_home`` (rests on unmarked data, see :class:`Handling`)."""
    if not result.tlp and not stays_home:
        return list(incident.get("object_marking_refs") or [])
    level = TLP.parse(result.tlp) if result.tlp else TLP.RED
    return tlp_markings(level, other_markings(incident), stays_home=stays_home)


def shown_level(levels: Iterable[str]) -> TLP:
    """The level of a rendering that shows several things (``TLP:GREEN``… each): the
    highest. A level that is missing (a result computed without a store, a view built
    without one) counts as RED, the one level that cannot leak."""
    return max((TLP.parse(level) if level else TLP.RED for level in levels), default=TLP.RED)


def shown_tlp(result: AttributionResult, view_levels: Iterable[str] = ()) -> TLP:
    """The level of a rendering that shows the result beside other nodes' views: the
    highest of the result's TLP and each view's (``View.tlp``)."""
    return shown_level([result.tlp, *view_levels])
