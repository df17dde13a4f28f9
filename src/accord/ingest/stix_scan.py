"""Split a JSON array of STIX objects into segments of whole objects, fast and streaming.

A bundle's ``objects`` array is read a chunk at a time. The chunk is cut after the last
``}`` that is followed by ``,`` or ``]``, and everything up to the cut is parsed with one
``orjson.loads`` call as ``[`` + segment + ``]``. Such a cut may fall inside an object (a
``}`` closing a nested object, or inside a string): then the segment cannot parse, because
the object it cuts is left open, and an earlier cut is tried. A segment that parses is
therefore a run of whole top-level items — JSON's grammar decides, not a heuristic.

Why not ijson item by item: its per-item Python overhead was the largest single cost of a
bulk import, while ``orjson`` parses a megabyte of objects in a couple of milliseconds.
Memory stays bounded by the chunk size (or the largest single object).

When a segment does not parse for a reason other than the cut, objects are parsed one by
one to name the first bad one: ``object N`` and the reason, and a file that ends inside
the array is refused as truncated after N complete objects. Integers too large for 64
bits, which orjson would turn into floats, send their segment to the standard library's
parser, which keeps them exact (the store then refuses them by name).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any, NamedTuple

import orjson

from accord.model.errors import InputError

CHUNK_BYTES = 1 << 20
_CUT_ATTEMPTS = 4
_WHITESPACE = b" \t\r\n"
# A number token of 19+ digits may not fit 64 bits (orjson would return a float).
_LONG_NUMBER = re.compile(rb"[:,\[]\s*-?[0-9]{19}")
# The regular expression costs ~5 µs per object; a run of 19 digits anywhere (which it
# needs) is first looked for with translate + find, ten times faster.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_DIGIT_RUN = b"0" * 19
_HEAD_TOKEN = re.compile(rb'\s*(?:("(?:[^"\\]|\\.)*")|([{}\[\]:,])|([^\s{}\[\]:,"]+))')


class Segment(NamedTuple):
    """Objects ``first`` … ``first + len(objects) - 1`` of the file.

    ``data`` is their JSON text (comma-separated, without brackets) when the scanner
    read them, None when they came another way. ``objects`` are as ``orjson`` parsed
    them, which turns integers beyond 64 bits into floats: read them through
    :func:`segment_objects` (or :func:`parse_segment` from the text), which are exact.
    """

    first: int
    data: bytes | None
    objects: list[Any]


def array_start(head: bytes) -> int | None:
    """Offset of the ``[`` that opens a top-level object's ``objects`` array in ``head``.

    None when the head does not reach it (a very large property before ``objects``) or
    is not well-formed up to it; the caller then streams with ijson instead.
    """
    pos = 0
    depth = 0
    key: bytes | None = None
    after_colon = False
    while True:
        m = _HEAD_TOKEN.match(head, pos)
        if not m or m.end() == pos:
            return None
        pos = m.end()
        string, punct, _literal = m.groups()
        if punct in (b"{", b"["):
            if after_colon and depth == 1 and punct == b"[" and _is_objects(key):
                return m.start(2)
            depth += 1
            after_colon = False
        elif punct in (b"}", b"]"):
            depth -= 1
            if depth <= 0:
                return None
        elif punct == b":":
            after_colon = True
            continue
        elif punct == b",":
            key = None
        elif string is not None and depth == 1 and not after_colon:
            key = string
            continue
        after_colon = False


def _is_objects(key: bytes | None) -> bool:
    if key is None:
        return False
    try:
        return bool(orjson.loads(key) == "objects")
    except orjson.JSONDecodeError:
        return False


def _truncated(index: int, detail: str) -> InputError:
    return InputError(
        f"object {index}",
        f"truncated or malformed JSON after {index} complete objects ({detail})",
    )


def _malformed(index: int, exc: orjson.JSONDecodeError) -> InputError:
    if _bad_utf8(exc):
        return InputError(f"object {index}", f"not UTF-8: {exc.msg}")
    return InputError(f"object {index}", f"malformed JSON ({exc.msg})")


def _bad_utf8(exc: orjson.JSONDecodeError) -> bool:
    return "UTF-8" in exc.msg


def _ends_early(exc: orjson.JSONDecodeError, slack: int = 0) -> bool:
    """Did the text end while a value was still open (within ``slack`` characters of the
    end)? ``pos`` counts characters of the decoded text, not bytes."""
    return not _bad_utf8(exc) and exc.pos >= len(exc.doc) - slack


def _exact(data: bytes) -> list[Any]:
    """Parse a segment with the standard library, which keeps integers of any size exact
    (storing one beyond 64 bits is then refused by name, see ``store.prepare``)."""
    try:
        return list(json.loads(b"[" + data + b"]", parse_constant=_no_constant))
    except json.JSONDecodeError as exc:  # the segment parsed once already: unreachable
        raise InputError("", f"malformed JSON ({exc.msg})") from None


def _no_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


class ArrayScanner:
    """Reads the items of a JSON array from ``handle``, positioned just after its ``[``.

    Iterate :meth:`segments`; afterwards :attr:`tail` holds the bytes after the closing
    ``]`` (the rest of the document), for the caller to check.
    """

    def __init__(self, handle: IO[bytes], chunk: int | None = None) -> None:
        self._handle = handle
        self._chunk = chunk or CHUNK_BYTES
        self._buf = b""
        self._pos = 0
        self._eof = False
        self.index = 0
        self.tail = b""

    # -- buffer ---------------------------------------------------------------------------

    def _more(self) -> int | None:
        """Drop what was consumed and append the next chunk. Returns how far positions
        in the buffer moved (subtract it from offsets held), or None at end of file."""
        if self._eof:
            return None
        unread = len(self._buf) - self._pos
        # Read at least as much as is held, so that a huge object costs linear copying.
        data = self._handle.read(max(self._chunk, unread))
        if not data:
            self._eof = True
            return None
        shift = self._pos
        self._buf = self._buf[shift:] + data
        self._pos = 0
        return shift

    def _next_char(self) -> int:
        """Skip whitespace at the read position; the byte there, or -1 at end of file."""
        while True:
            buf, at = self._buf, self._pos
            n = len(buf)
            while at < n and buf[at] in _WHITESPACE:
                at += 1
            self._pos = at
            if at < n:
                return buf[at]
            if self._more() is None:
                return -1

    # -- scanning -------------------------------------------------------------------------

    def segments(self) -> Iterator[Segment]:
        char = self._next_char()
        if char == ord("]"):
            self._finish()
            return
        while True:
            if char == -1:
                raise _truncated(self.index, "the file ends inside the array")
            segment = (self._batch() if char == ord("{") else None) or self._single()
            yield segment
            self.index += len(segment.objects)
            char = self._next_char()
            if char == ord(","):
                self._pos += 1
                char = self._next_char()
                if char == ord("]"):
                    raise InputError(f"object {self.index}", "malformed JSON (a comma before ']')")
            elif char == ord("]"):
                self._finish()
                return
            elif char == -1:
                raise _truncated(self.index, "the file ends inside the array")
            else:
                raise InputError(
                    f"object {self.index}",
                    "malformed JSON (expected ',' or ']' after an object)",
                )

    def _finish(self) -> None:
        """Keep what follows the closing ``]``, read to the end of the file."""
        rest = [self._buf[self._pos + 1 :]]
        while data := self._handle.read(self._chunk):
            rest.append(data)
        self.tail = b"".join(rest)
        self._buf, self._pos = b"", 0

    def _cuts(self) -> Iterator[int]:
        """Candidate cuts in the buffer, last first: just after a ``}`` that is followed
        by ``,`` or ``]``."""
        buf, start = self._buf, self._pos
        n = len(buf)
        end = n
        while True:
            j = buf.rfind(b"}", start, end)
            if j < 0:
                return
            k = j + 1
            while k < n and buf[k] in _WHITESPACE:
                k += 1
            if k < n and buf[k] in b",]":
                yield j + 1
            end = j

    def _batch(self) -> Segment | None:
        """As many whole objects as the buffer holds, in one parse; None to go slowly."""
        while True:
            for attempt, cut in enumerate(self._cuts()):
                if attempt == _CUT_ATTEMPTS:
                    return None
                data = self._buf[self._pos : cut]
                try:
                    objects = orjson.loads(b"[" + data + b"]")
                except orjson.JSONDecodeError as exc:
                    if _ends_early(exc, slack=1):  # the cut fell inside an object
                        continue
                    return None  # a real error: locate it object by object
                self._pos = cut
                return Segment(self.index, data, objects)
            # No usable cut: an object larger than the buffer, or the end of the file.
            if self._more() is None:
                return None

    def _single(self) -> Segment:
        """The one item at the read position, parsed alone; raises naming it if bad."""
        is_object = self._buf[self._pos] == ord("{")
        search = self._pos
        while True:
            end, resume = _item_end(self._buf, search, is_object)
            if end is None:
                shift = self._more()
                if shift is None:
                    raise _truncated(self.index, "the file ends inside this object")
                search = resume - shift
                continue
            data = self._buf[self._pos : end]
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                if _ends_early(exc):
                    search = resume
                    continue
                raise _malformed(self.index, exc) from None
            self._pos = end
            return Segment(self.index, data, [obj])


_SEPARATOR = re.compile(rb"[,\]]")


def _item_end(buf: bytes, at: int, is_object: bool) -> tuple[int | None, int]:
    """The next place at or after ``at`` where an item may end: after a ``}`` followed by
    ``,`` or ``]`` for an object, before any ``,`` or ``]`` otherwise. Returns the end and
    where to search on if the item turns out longer; ``(None, resume)`` when the buffer
    must grow first."""
    n = len(buf)
    if not is_object:
        m = _SEPARATOR.search(buf, at)
        return (m.start(), m.start() + 1) if m else (None, n)
    j = buf.find(b"}", at)
    while j >= 0:
        k = j + 1
        while k < n and buf[k] in _WHITESPACE:
            k += 1
        if k == n:
            return None, j  # what follows this brace is not read yet
        if buf[k] in b",]":
            return j + 1, j + 1
        j = buf.find(b"}", j + 1)
    return None, n


def check_document(prefix: bytes, tail: bytes, index: int) -> None:
    """Refuse a document whose text around the array is not valid JSON (a truncated end,
    trailing garbage): ``prefix`` is everything before the array, ``tail`` after it."""
    try:
        orjson.loads(prefix + b"[]" + tail)
    except orjson.JSONDecodeError as exc:
        if _ends_early(exc):
            raise _truncated(index, exc.msg) from None
        raise _malformed(index, exc) from None


def _has_long_number(data: bytes) -> bool:
    return _DIGIT_RUN in data.translate(_DIGITS_AS_ZERO) and bool(_LONG_NUMBER.search(data))


def segment_objects(segment: Segment) -> list[Any]:
    """The objects of a segment, exact: re-parsed when they hold long integers."""
    if segment.data is not None and _has_long_number(segment.data):
        return _exact(segment.data)
    return segment.objects


def parse_segment(segment: Segment) -> list[Any]:
    """The objects of a segment, parsed from its text when it has one (a worker process
    receives the text alone: it re-parses faster than parsed objects would unpickle)."""
    if segment.data is None:
        return segment.objects
    if _has_long_number(segment.data):
        return _exact(segment.data)
    return list(orjson.loads(b"[" + segment.data + b"]"))
