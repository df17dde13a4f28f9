"""Opening log files: decompression, content-based format detection and the Zeek header scan.

Everything here touches a file's bytes in large blocks (C-speed ``find``/``count``), never line
by line: the per-record work happens in the engine. Compressed files are decompressed to a
temporary file first, as a stream with bounded memory, so that a truncated or corrupt gzip
or zstd stream becomes a clear message ("truncated after line N") and the readable part is
still hunted, instead of an engine error that loses the whole file.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from io import FileIO
from pathlib import Path
from typing import Any

import orjson
import zstandard

from accord.model.errors import AccordError

FORMATS = ("auto", "zeek", "zeek-json", "eve", "csv", "jsonl", "parquet", "ocsf")
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PARQUET_MAGIC = b"PAR1"
_BLOCK = 8 << 20
_HEAD = 1 << 20
_SLICE = 64 << 10  # compressed bytes per decompress call (see _inflate)
BOM = b"\xef\xbb\xbf"


@dataclass
class Problem:
    """A bad line or a damaged file: where and why, for the operator."""

    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.path, "line": self.line, "reason": self.reason}


class StrictStop(AccordError):
    """Raised under ``--strict`` at the first bad line or damaged file."""


@dataclass
class Opened:
    """A log file ready for an engine: a plain path (maybe a decompressed temporary copy)."""

    original: Path
    plain: Path
    compression: str | None
    problems: list[Problem] = field(default_factory=list)
    lost_lines: int = 0


def fingerprint(path: Path) -> str:
    """Identity of a file's content for resuming: size, plus hashes of its head and tail.

    Hashing whole multi-gigabyte logs to decide whether to skip them would cost as much as
    hunting them; rotated logs change size or tail when they change at all.
    """
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 16))
        if size > 1 << 17:
            handle.seek(size - (1 << 16))
            digest.update(handle.read(1 << 16))
    return digest.hexdigest()


def sniff_compression(path: Path) -> str | None:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def _decompressor(compression: str) -> Any:
    if compression == "gzip":
        return zlib.decompressobj(wbits=31)
    return zstandard.ZstdDecompressor().decompressobj()


def _inflate(obj: Any, compression: str, data: bytes, produced: list[bytes]) -> Any:
    """Feed ``data`` to the stream, appending its output to ``produced`` as it comes.

    Returns the decompressor of the member still open (``None`` between members). The input
    is fed in slices: a stream error discards only the output of the failing call, so what
    the earlier slices gave is kept. Zero bytes after a complete member are padding (tape
    blocks, preallocated files), which gzip itself ignores, not a new member.
    """
    view = memoryview(data)
    pos = 0
    while pos < len(data):
        if obj is None:
            if data[pos] == 0 and data.count(b"\0", pos) == len(data) - pos:
                return None
            obj = _decompressor(compression)
        piece = view[pos : pos + _SLICE]
        produced.append(obj.decompress(piece))
        pos += len(piece)
        if obj.eof:
            pos -= len(obj.unused_data)  # the next member starts in this piece
            obj = None
    return obj


def open_plain(path: Path, workdir: Path) -> Opened:
    """Return a plain (uncompressed) path for ``path``, decompressing into ``workdir``.

    A damaged stream keeps everything up to the last complete line before the damage; the
    cut line and the rest are reported as one problem with the line number where it stopped.
    """
    compression = sniff_compression(path)
    if compression is None:
        return Opened(path, path, None)
    target = workdir / (path.name + ".plain")
    lines = 0
    problem: str | None = None
    tail = b""
    with path.open("rb") as raw, target.open("wb") as out:
        obj: Any = None
        while True:
            data = raw.read(1 << 20)
            if not data:
                break
            produced: list[bytes] = []
            try:
                obj = _inflate(obj, compression, data, produced)
            except (zlib.error, zstandard.ZstdError) as exc:
                problem = f"{compression} stream is corrupt ({exc})"
            # Written even when the stream broke: the lines before the damage still count.
            block = tail + b"".join(produced)
            cut = block.rfind(b"\n") + 1
            out.write(block[:cut])
            lines += block.count(b"\n", 0, cut)
            tail = block[cut:]
            if problem is not None:
                break
        if problem is None and obj is not None:
            problem = f"{compression} stream is truncated (it ends inside a member)"
        if tail and problem is None:
            out.write(tail + b"\n")  # a last line without a newline is still a line
            tail = b""
    opened = Opened(path, target, compression)
    if problem is not None:
        if tail:
            problem += "; the partial line there and everything after it were skipped"
            opened.lost_lines = 1
        else:
            problem += "; everything after it was skipped"
        opened.problems.append(Problem(str(path), lines + 1, problem))
    return opened


def _first_line(head: bytes) -> bytes:
    for line in head.splitlines():
        if line.strip():
            return line.strip()
    return b""


def detect_format(plain: Path) -> str:
    """Guess a log format from content: Zeek headers, Parquet magic, JSON keys, else CSV."""
    with plain.open("rb") as handle:
        head = handle.read(1 << 16)
    # A UTF-8 byte order mark (Windows tools write one) is not content; DuckDB's readers
    # skip it too.
    head = head.removeprefix(BOM)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(b"#separator") or head.startswith(b"#fields"):
        return "zeek"
    first = _first_line(head)
    if first.startswith(b"{"):
        try:
            record = orjson.loads(first)
        except orjson.JSONDecodeError:
            return "jsonl"
        if not isinstance(record, dict):
            return "jsonl"
        if "_path" in record or ("uid" in record and "id.orig_h" in record):
            return "zeek-json"
        if "event_type" in record and ("src_ip" in record or "timestamp" in record):
            return "eve"
        if "class_uid" in record or "category_uid" in record:
            return "ocsf"
        return "jsonl"
    return "csv"


@dataclass
class ZeekSegment:
    """A run of data lines sharing one ``#fields`` header."""

    fields: list[str]
    types: list[str]
    path: str | None
    start: int  # byte offset of the first data byte
    end: int  # byte offset after the last data byte
    first_line: int  # physical line number of the segment's first line (1-based)
    set_separator: str = ","
    unset: str = "-"
    empty: str = "(empty)"
    fields_line: int = 0  # physical line number of the ``#fields`` header


@dataclass
class ZeekLayout:
    """The header structure of a Zeek TSV file, found without reading it line by line."""

    segments: list[ZeekSegment]
    skipped_lines: list[int]  # physical line numbers of header and blank lines
    total_lines: int
    problems: list[Problem] = field(default_factory=list)


def _header_value(line: bytes) -> list[str]:
    text = line.decode("utf-8", "replace").rstrip("\r")
    return text.split("\t")[1:]


def _next_header(chunk: bytes | bytearray, pos: int, stop: int) -> int:
    """Start of the next line beginning with ``#`` in ``chunk[pos:stop]``: ``#`` is rare, so
    find it and check that a newline precedes it (searching for the pair would stop at every
    newline)."""
    while True:
        at = chunk.find(b"#", pos, stop)
        if at < 0:
            return -1
        if at == 0 or chunk[at - 1] == 10:
            return at
        pos = at + 1


def _next_special(chunk: bytes | bytearray, pos: int, stop: int, blanks: bool) -> int:
    """Start of the next header (or, with ``blanks``, empty) line at or after line start
    ``pos``, before ``stop``."""
    head = chunk[pos : pos + 1]
    if head == b"#" or (blanks and head == b"\n"):
        return pos
    found = [_next_header(chunk, pos, stop)]
    if blanks:
        x = chunk.find(b"\n\n", pos, stop)
        found.append(x + 1 if x >= 0 else -1)
    found = [f for f in found if f >= 0]
    return min(found) if found else -1


class _ZeekScan:
    """State of a header scan across blocks."""

    def __init__(self, plain: Path) -> None:
        self.plain = plain
        self.skipped: list[int] = []
        self.segments: list[ZeekSegment] = []
        self.problems: list[Problem] = []
        self.fields: list[str] | None = None
        self.log_path: str | None = None
        self.settings = {"set_separator": ",", "unset": "-", "empty": "(empty)"}

    def header(self, line: bytes, physical: int, start: int, data_start: int) -> None:
        key = line.split(b"\t", 1)[0].split(b" ", 1)[0]
        values = _header_value(line)
        current = self.segments[-1] if self.segments else None
        if key == b"#fields":
            if current is not None and current.end < 0:
                current.end = start
            if self.fields is not None and values and values != self.fields:
                self.problems.append(
                    Problem(
                        str(self.plain),
                        physical,
                        "#fields changes midway; the lines after it are read with the new header",
                    )
                )
            self.fields = values or self.fields  # a nameless one is reported by the reader
            self.segments.append(
                ZeekSegment(
                    fields=values,
                    types=[],
                    path=self.log_path,
                    start=data_start,
                    end=-1,
                    first_line=physical + 1,
                    set_separator=self.settings["set_separator"],
                    unset=self.settings["unset"],
                    empty=self.settings["empty"],
                    fields_line=physical,
                )
            )
        elif key == b"#types" and current is not None:
            current.types = values
            current.start = data_start
            current.first_line = physical + 1
        elif key == b"#path":
            self.log_path = values[0] if values else None
            if current is not None and current.start >= start:
                current.path = self.log_path
        elif key in (b"#set_separator", b"#unset_field", b"#empty_field") and values:
            name = {b"#set_separator": "set_separator", b"#unset_field": "unset"}.get(key, "empty")
            self.settings[name] = values[0]
        elif key == b"#close" and current is not None and current.end < 0:
            current.end = start


def _read_full(handle: FileIO, buffer: bytearray) -> int:
    """Fill ``buffer`` from ``handle`` (short only at the end of the file); bytes read."""
    view = memoryview(buffer)
    got = 0
    while got < len(buffer):
        n = handle.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def scan_zeek(plain: Path, *, blanks: bool = False, head_only: bool = False) -> ZeekLayout:
    """Find every header line (``#…``), and with ``blanks`` every empty line, by block-wise
    ``find``.

    Header lines are few (usually 8 at the top and ``#close`` at the end), so the scan is a
    handful of C-level searches per block plus a newline count, whatever the file size.
    Empty lines are rare and costly to look for; the reader asks for them only when its
    record count shows that some line was skipped silently. ``head_only`` reads the first
    megabyte only: enough for the header block, to start parsing while the rest is scanned.
    """
    scan = _ZeekScan(plain)
    lines_before = 0
    offset = 0
    size = _HEAD if head_only else _BLOCK
    # One buffer, read into again and again: a fresh block per read would make the kernel
    # hand over (and zero) new pages for every 8 MB (a tenth of the scan's CPU time).
    block = bytearray(size)
    with plain.open("rb", buffering=0) as handle:
        while True:
            # Each block is read from the start of its first whole line (a seek back over
            # the previous block's partial line), and searched in place: no copies.
            handle.seek(offset)
            got = _read_full(handle, block)
            if not got:
                break
            last = got < size
            cut = got if last else block.rfind(b"\n", 0, got) + 1
            if cut == 0:
                size *= 2  # a line longer than a block
                block = bytearray(size)
                continue
            pos = 0
            if offset == 0 and block.startswith(BOM):
                pos = len(BOM)  # DuckDB skips it too: the line is still a header
            while pos < cut:
                at = _next_special(block, pos, cut, blanks)
                if at < 0:
                    break
                end = block.find(b"\n", at, cut)
                end = cut if end < 0 else end
                physical = lines_before + block.count(b"\n", 0, at) + 1
                scan.skipped.append(physical)
                if block[at : at + 1] == b"#":
                    scan.header(bytes(block[at:end]), physical, offset + at, offset + end + 1)
                pos = end + 1
            lines_before += block.count(b"\n", 0, cut) + (0 if block[cut - 1] == 10 else 1)
            offset += cut
            if last or head_only:
                break
    for segment in scan.segments:
        if segment.end < 0:
            segment.end = offset
    return ZeekLayout(scan.segments, scan.skipped, lines_before, scan.problems)


def head_has_cr(plain: Path) -> bool:
    """Whether the first block holds a carriage return: CRLF line ends show in line one."""
    with plain.open("rb") as handle:
        return b"\r" in handle.read(1 << 16)


def normalise_newlines(plain: Path, target: Path, lone_cr: bytes) -> bool:
    """Copy ``plain`` to ``target`` with LF line ends; whether there was anything to change.

    ``\\r\\n`` becomes ``\\n`` and a lone ``\\r`` becomes ``lone_cr`` (one byte or an
    escape, never a line end), so the number of lines does not change and every line number
    stays exact. Block-wise C-level ``replace``, no per-line work.
    """
    changed = False
    carry = b""
    with plain.open("rb") as src, target.open("wb") as out:
        while True:
            block = src.read(_BLOCK)
            data = carry + block if carry else block
            if not data:
                break
            carry = b""
            if block and data.endswith(b"\r"):  # its \n may start the next block
                data, carry = data[:-1], b"\r"
            if b"\r" in data:
                changed = True
                data = data.replace(b"\r\n", b"\n").replace(b"\r", lone_cr)
            out.write(data)
            if not block:
                break
    return changed
