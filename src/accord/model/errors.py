"""Errors that carry the place and the reason, so an operator can fix the input.

Every rejection names *where* (file, line, object index or id) and *why*. The store and
the importers raise these; the CLI prints them without a traceback.
"""

from __future__ import annotations


class AccordError(Exception):
    """Base class for expected, user-facing failures."""


class InputError(AccordError):
    """Input that cannot be accepted: bad JSON, a missing property, a bad pattern…

    ``place`` is a human-readable location such as ``bundle.json: object 12 (indicator--…)``
    or ``iocs.csv: line 4``.
    """

    def __init__(self, place: str, reason: str) -> None:
        self.place = place
        self.reason = reason
        super().__init__(f"{place}: {reason}" if place else reason)

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        # Pickled by (place, reason), so that the error crosses from a worker process.
        return type(self), (self.place, self.reason)

    def at(self, outer: str) -> InputError:
        """Return the same error prefixed with an outer location (for example a file name)."""
        place = f"{outer}: {self.place}" if self.place else outer
        return InputError(place, self.reason)


class VersionConflict(InputError):
    """The same ``id`` + ``modified`` already stored with different content."""


class ForeignCreator(InputError):
    """A new version whose ``created_by_ref`` differs from the stored object's creator."""


class RevokedObject(InputError):
    """A version newer than a revocation that is not itself revoked."""


class NotFound(AccordError):
    """An id or name that is not in the store."""
