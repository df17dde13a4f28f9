"""Free text (a report, an email) → an indicator per IOC it names, and a report around them.

**Library: ioc-finder**, not iocextract, because iocextract extracts no domain names at all
(only URLs, IPs, emails and hashes) and, on our samples, glued preceding words onto email
addresses; ioc-finder's grammars find domains and check them against the IANA TLD list (so
``report.pdf`` and ``invoice.docx`` are not domains), find CIDR ranges, and are exposed one
kind at a time. Its one-call ``find_iocs`` is not used: it always runs ioc-fanger, whose rule
for "at"/"et" next to a bracket turns ``(C2: update-cdn-sync.net)`` into ``…sync.n@``.
:func:`refang` undoes the defanging accord accepts, in any case (``HXXPS`` too), and URLs
are trimmed of trailing sentence punctuation.

**Private and reserved addresses** are dropped (unless ``ctx.keep_private``) when they do not
name one host on the Internet, so that a match in a reader's logs would be meaningless or
would hit their own machines: RFC 1918 and RFC 4193 private space, RFC 6598 shared (CGNAT)
space, loopback, link-local, "this network", IETF protocol assignments (192.0.0.0/24),
benchmarking (198.18.0.0/15), multicast, the 240/4 future-use block and broadcast, the
unspecified and discard-only addresses. A CIDR range overlapping any of them is dropped too.
**Documentation ranges are kept** (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
2001:db8::/32): no network uses them, so they cannot collide with a reader's hosts, and they
are exactly what exercises and fictional cases use for the adversary (accord's own example
C2 is 203.0.113.47).

**False positives avoided:**

* a URL's host (and an email's domain) is not emitted as a domain unless it also appears on
  its own in the text;
* a two-label name whose last label is a common file extension (``setup.py``, ``README.md``,
  ``archive.zip`` — ``.py``, ``.md``, ``.zip`` are real TLDs) is taken as a file name;
* a name spelled with capitals past its first letter (``System.IO``, ``ASP.NET``) is taken as
  code, not a host;
* both rules give way when the author defanged the name (``archive[.]zip``): defanging is
  how analysts mark an indicator.

**Encoding:** ``.txt``/``.md``/``.html`` must be UTF-8 (a byte-order mark is allowed); a bad
byte is reported with its line and byte offset rather than guessed at. An ``.eml`` declares a
charset per MIME part, so its parts are decoded by that declaration (what the ``email``
package does); an undecodable byte there becomes U+FFFD, which cannot alter an IOC since
IOCs are ASCII after refanging. Only the subject and the body are read: the other headers
describe the mail's way to us (our own relays, our own addresses), not the threat.
"""

from __future__ import annotations

import email
import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, cast

from ioc_finder import (
    parse_domain_names,
    parse_email_addresses,
    parse_ipv4_addresses,
    parse_ipv4_cidrs,
    parse_ipv6_addresses,
    parse_ipv6_cidrs,
    parse_md5s,
    parse_sha1s,
    parse_sha256s,
    parse_sha512s,
    parse_urls,
)

from accord.ingest.context import ImportContext, ReaderResult
from accord.ingest.csv_indicators import build_indicator, deterministic_id
from accord.model.errors import InputError
from accord.model.observables import (
    KINDS,
    Observable,
    normalize,
    normalize_ip,
    url_host,
)

DESCRIPTION_LIMIT = 65_536
NAME_LIMIT = 200

_AMBIGUOUS_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",
        "100::/64",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)

# Extensions seen as file names in reports; several (py, md, zip, mov, sh, pl…) are TLDs.
_EXTENSION_LINES = (
    "7z ai apk asp aspx bak bat bin bmp c cfg class cmd conf cpp cs csv dat db deb dll dmg",
    "doc docm docx elf eml exe gif go gz h hta htm html img ini iso jar java jpeg jpg js json",
    "jsp lnk log md mjs ml mov mp3 mp4 msg msi one pdf php pkg pl pm png ppt pptx ps ps1 pst",
    "py pyc rar rb rpm rs rtf sc scr sh so sql svg sys tar tgz tmp ts txt vbs wav xls xlsm",
    "xlsx xml yaml yml zip",
)
FILE_EXTENSIONS = frozenset(" ".join(_EXTENSION_LINES).split())


def _bracketed(inner: str) -> str:
    """``inner`` inside [], () or {}, with optional blanks (never newlines) around."""
    body = rf"[ \t]*(?:{inner})[ \t]*"
    return rf"[ \t]*(?:\[{body}\]|\({body}\)|\{{{body}\}})[ \t]*"


_DOT = _bracketed(r"\.|dot")
_AT = _bracketed(r"@|at")
_SCHEME = re.compile(r"\b([hH][xX]{2}[pP][sS]?|[fF][xX][pP])(?=\s*\[?:)")
_COLON_SLASHES = re.compile(r"\[:\]//|\[://\]|\[:/\]/|\[:\]")
_DOTS = re.compile(_DOT, re.I)
_ATS = re.compile(_AT, re.I)


def refang(text: str) -> str:
    """Undo the usual defanging: ``hxxp(s)``, ``fxp``, ``[:]``, ``[://]``, ``[.]``, ``(.)``,
    ``{.}``, ``[dot]``, ``[@]``, ``[at]`` (any case). Newlines are never consumed, so line
    numbers in the refanged text are those of the original."""

    def scheme(match: re.Match[str]) -> str:
        word = match[1].lower()
        return "ftp" if word == "fxp" else word.replace("xx", "tt")

    text = _SCHEME.sub(scheme, text)
    text = _COLON_SLASHES.sub(lambda m: "://" if "//" in m[0] else ":", text)
    text = _DOTS.sub(".", text)
    return _ATS.sub("@", text)


def is_ambiguous_address(observable: Observable) -> bool:
    """True for addresses and ranges that do not name one Internet host (see module doc)."""
    net = ipaddress.ip_network(observable.value)
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen == 128:
        mapped = net.network_address.ipv4_mapped
        if mapped is not None:
            net = ipaddress.ip_network(mapped)
    return any(net.version == bad.version and net.overlaps(bad) for bad in _AMBIGUOUS_NETWORKS)


def _written_defanged(name: str, original: str) -> bool:
    labels = [re.escape(label) for label in name.split(".")]
    return re.search(_DOT.join(labels), original, re.I) is not None


def _spelled_as_host(name: str, fanged: str) -> bool:
    """Some standalone occurrence is lower case past its first letter (a sentence may
    capitalise it). None standalone means the name was cut out of a longer one whose last
    label is no TLD (``www.ruritania.gov`` from ``www.ruritania.gov.rr``)."""
    pattern = re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.[\w-])", re.I)
    return any(m[0][1:] == m[0][1:].lower() for m in pattern.finditer(fanged))


def _plausible_domain(name: str, original: str, fanged: str) -> bool:
    if _written_defanged(name, original):
        return True
    labels = name.split(".")
    if len(labels) == 2 and labels[-1] in FILE_EXTENSIONS:
        return False
    return _spelled_as_host(name, fanged)


def _trim_url(url: str) -> str:
    """Drop sentence punctuation and unbalanced closing brackets stuck to a URL's end."""
    pairs = {")": "(", "]": "[", "}": "{", ">": "<"}
    while url:
        last = url[-1]
        unbalanced = last in pairs and url.count(pairs[last]) < url.count(last)
        if last in ".,;:!?'\"" or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def _url_host_is_ambiguous(observable: Observable) -> bool:
    host = url_host(observable.value)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return is_ambiguous_address(normalize_ip(host))
    except ValueError:
        return False


@dataclass
class Extraction:
    """The IOCs of one text (normalised → first spelling seen), and what was left out."""

    found: dict[Observable, str] = field(default_factory=dict)
    private: int = 0
    file_names: int = 0


def _find_candidates(fanged: str) -> dict[str, list[str]]:
    """Candidate IOCs by accord kind, through ioc-finder's own grammars.

    ``find_iocs`` is not used because it always runs ioc-fanger first, whose "at/et next to
    a bracket" rule rewrites ``(C2: update-cdn-sync.net)`` into ``update-cdn-sync.n@`` and
    loses the domain; :func:`refang` has already undone the defanging accord accepts. The
    order follows ``find_iocs``: URLs, emails and CIDR ranges are taken out of the text
    before domains and addresses are looked for, so a URL's host, an email's domain or a
    range's base address is not reported again unless it also stands on its own.
    """
    found: dict[str, list[str]] = {"url": parse_urls(fanged, parse_urls_without_scheme=False)}
    rest = _without(fanged, found["url"])
    found["email"] = parse_email_addresses(rest)
    rest = _without(rest, found["email"])
    found["cidr"] = parse_ipv4_cidrs(rest) + parse_ipv6_cidrs(rest)
    rest = _without(rest, found["cidr"])
    found["domain"] = parse_domain_names(rest)
    found["ip"] = parse_ipv4_addresses(rest) + parse_ipv6_addresses(rest)
    for kind, parse in (
        ("sha512", parse_sha512s),
        ("sha256", parse_sha256s),
        ("sha1", parse_sha1s),
        ("md5", parse_md5s),
    ):
        found[kind] = parse(rest)
    return found


def _without(text: str, items: list[str]) -> str:
    for item in sorted(items, key=len, reverse=True):
        text = text.replace(item, " ")
    return text


def extract(text: str, keep_private: bool = False) -> Extraction:
    """Refang ``text`` and return its distinct IOCs (normalised → first spelling seen)."""
    fanged = refang(text)
    out = Extraction()
    for kind, candidates in _find_candidates(fanged).items():
        for raw in sorted(set(candidates)):
            spelled = _trim_url(raw) if kind == "url" else raw
            try:
                observable = normalize(kind, spelled)
            except ValueError:
                continue
            if kind in ("ip", "cidr") and not keep_private and is_ambiguous_address(observable):
                out.private += 1
                continue
            if kind == "url" and not keep_private and _url_host_is_ambiguous(observable):
                out.private += 1
                continue
            if kind == "domain" and not _plausible_domain(observable.value, text, fanged):
                out.file_names += 1
                continue
            out.found.setdefault(observable, spelled)
    return out


def _ordered(found: dict[Observable, str]) -> list[tuple[Observable, str]]:
    order = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(found.items(), key=lambda item: (order[item[0].kind], item[0].value))


# --- reading the file ---------------------------------------------------------------------


class _HTMLText(HTMLParser):
    """Visible text of an HTML page, with link targets kept (they are often the IOCs).

    Scripts, styles and ``src`` attributes are the page's own machinery (analytics, CDNs),
    not what the author wrote about, so they are left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self.heading: str | None = None
        self._skip = 0
        self._in: str | None = None
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        if tag in ("title", "h1") and self._in is None:
            self._in, self._buffer = tag, []
        if tag == "a":
            self.parts.extend(f" {value} " for name, value in attrs if name == "href" and value)
        if tag in ("br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        if tag == self._in:
            text = " ".join("".join(self._buffer).split())
            if tag == "title" and self.title is None and text:
                self.title = text
            if tag == "h1" and self.heading is None and text:
                self.heading = text
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in is not None:
            self._buffer.append(data)
        if self._in != "title":
            self.parts.append(data)


def _html_text(markup: str) -> tuple[str, str | None]:
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts).strip(), parser.title or parser.heading


_HEADING = re.compile(r"^(?:#{1,6}[ \t]+(?P<atx>.+?)[ \t#]*|(?:subject|title):[ \t]*(?P<tag>.+))$")


def _plain_heading(text: str) -> str | None:
    """A Markdown heading anywhere, or a ``Subject:``/``Title:`` line near the top."""
    for number, line in enumerate(text.splitlines()):
        match = _HEADING.match(line.strip())
        if match is None:
            continue
        if match["atx"]:
            return match["atx"].strip()
        if number < 10 and match["tag"]:
            return match["tag"].strip()
    return None


def _decode_utf8(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"line {line}",
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start} "
            "(save the file as UTF-8)",
        ) from None


def _email_text(raw: bytes) -> tuple[str, str | None]:
    # With the default policy the parser builds EmailMessage objects (get_body, get_content).
    message = cast(EmailMessage, email.message_from_bytes(raw, policy=policy.default))
    subject = str(message.get("subject") or "").strip() or None
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return (subject or ""), subject
    try:
        content = body.get_content()
    except LookupError as exc:
        raise InputError("body", f"unknown charset: {exc}") from None
    if not isinstance(content, str):
        return (subject or ""), subject
    if body.get_content_subtype() == "html":
        content, _ = _html_text(content)
    return (f"{subject}\n\n{content}" if subject else content), subject


def read_document(path: Path) -> tuple[str, str | None]:
    """The text of a report or an email, and its title (subject or first heading) if any."""
    raw = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".eml":
        return _email_text(raw)
    text = _decode_utf8(raw)
    if suffix in (".html", ".htm"):
        return _html_text(text)
    return text, _plain_heading(text)


def _truncate(text: str, file_name: str) -> str:
    if len(text) <= DESCRIPTION_LIMIT:
        return text
    cut = text.rfind("\n", DESCRIPTION_LIMIT - 2000, DESCRIPTION_LIMIT)
    cut = cut if cut > 0 else DESCRIPTION_LIMIT
    omitted = len(text) - cut
    return f"{text[:cut].rstrip()}\n\n[… {omitted} more characters are in {file_name}]"


def _line_of(spelled: str, fanged_lower: str) -> int | None:
    index = fanged_lower.find(spelled.lower())
    return fanged_lower.count("\n", 0, index) + 1 if index >= 0 else None


def read_text(path: Path, ctx: ImportContext) -> ReaderResult:
    """Yield ``("line N", indicator)`` per distinct IOC, then ``("report", report)``."""
    text, title = read_document(path)
    extraction = extract(text, ctx.keep_private)
    if not extraction.found:
        left_out = []
        if extraction.private:
            left_out.append(f"{extraction.private} private or reserved address(es)")
        if extraction.file_names:
            left_out.append(f"{extraction.file_names} file or code name(s)")
        note = f" ({' and '.join(left_out)} left out)" if left_out else ""
        raise InputError(
            "", f"no indicators found{note}: a report must reference at least one indicator"
        )
    fanged_lower = refang(text).lower()
    where = "line" if path.suffix.lower() in (".txt", ".md", "") else "text line"
    refs: list[str] = []
    for observable, spelled in _ordered(extraction.found):
        indicator = build_indicator(observable, spelled, ctx)
        refs.append(indicator["id"])
        line = _line_of(spelled, fanged_lower)
        yield (f"{where} {line}" if line else "text"), indicator
    yield "report", _report(path, ctx, text, title, refs)


def _report(
    path: Path, ctx: ImportContext, text: str, title: str | None, refs: list[str]
) -> dict[str, Any]:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    name = " ".join((title or path.name).split())[:NAME_LIMIT]
    report: dict[str, Any] = {
        "type": "report",
        "spec_version": "2.1",
        "id": deterministic_id("report", ctx.identity_id, digest),
        "created_by_ref": ctx.identity_id,
        "created": ctx.timestamp,
        "modified": ctx.timestamp,
        "name": name,
        "description": _truncate(text, path.name),
        "report_types": ["threat-report"],
        "published": ctx.timestamp,
        "object_refs": refs,
    }
    markings = ctx.marking_refs()
    if markings:
        report["object_marking_refs"] = markings
    return report
