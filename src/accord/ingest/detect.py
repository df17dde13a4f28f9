"""Format detection for ``accord import --format auto``: by content first, then by name."""

from __future__ import annotations

import importlib
from pathlib import Path

from accord.ingest.stix_bundle import HEAD_BYTES
from accord.ingest.stix_bundle import sniff as sniff_stix

FORMATS = ("auto", "stix", "misp", "csv", "text")
_TEXT_SUFFIXES = {".txt", ".eml", ".md", ".html", ".htm", ".log", ".rst"}


def detect_format(path: Path) -> str:
    """``stix``, ``misp``, ``csv`` or ``text`` for a file, from its first bytes and name."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        if importlib.import_module("accord.ingest.misp").sniff(head):
            return "misp"
        if sniff_stix(head):
            return "stix"
        return "stix"  # JSON that is neither: the STIX reader explains what is wrong
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in _TEXT_SUFFIXES:
        return "text"
    first_line = stripped.split(b"\n", 1)[0]
    if b"," in first_line and b" " not in first_line.strip():
        return "csv"
    return "text"
