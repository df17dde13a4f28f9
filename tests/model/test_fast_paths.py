"""The hot-path shortcuts give exactly what the general code gives.

Each shortcut (canonical IPv4 text, whole-name domain match, one-match identifiers,
cached timestamps) must accept the same values and return the same results as the
code it short-circuits; these tests compare them on awkward inputs.
"""

from __future__ import annotations

import ipaddress
import re

import pytest

from accord.model.observables import (
    _LABEL,
    Observable,
    network_bounds,
    normalize_domain,
    normalize_ip,
    normalize_url,
)
from accord.model.stix import _TYPE_NAME, _UUID, is_identifier
from accord.model.timestamps import (
    canonical_stamp,
    format_micros,
    parse_stix_timestamp,
    stix_micros,
    to_micros,
)

IPV4 = [
    "0.0.0.0",
    "1.2.3.4",
    "9.10.99.100",
    "199.200.249.250",
    "255.255.255.255",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.04",
    "1.2.3",
    "1.2.3.4.5",
    " 10.0.0.1 ",
    "10.0.0.1/32",
    "10.0.0.0/8",
]


@pytest.mark.parametrize("text", IPV4)
def test_ipv4_shortcut_matches_ipaddress(text: str) -> None:
    try:
        expected: Observable | None = _general_ip(text)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            normalize_ip(text)
        return
    assert normalize_ip(text) == expected
    value = expected.value
    net = ipaddress.ip_network(value, strict=False)
    width = 8 if net.version == 4 else 32
    assert network_bounds(value) == (
        format(int(net.network_address), f"0{width}x"),
        format(int(net.broadcast_address), f"0{width}x"),
    )


def _general_ip(text: str) -> Observable:
    stripped = text.strip()
    if "/" in stripped:
        net = ipaddress.ip_network(stripped, strict=False)
        if net.prefixlen == net.max_prefixlen:
            return Observable(f"ipv{net.version}", str(net.network_address))
        return Observable(f"ipv{net.version}-net", str(net))
    addr = ipaddress.ip_address(stripped)
    return Observable(f"ipv{addr.version}", str(addr))


DOMAINS = [
    "example.com",
    "a-b.c_d.net",
    "x" * 63 + ".com",
    "x" * 64 + ".com",
    "-a.com",
    "a-.com",
    "a..com",
    ".com",
    "com",
    "Example.COM.",
    "a b.com",
]


@pytest.mark.parametrize("text", DOMAINS)
def test_domain_shortcut_matches_the_label_check(text: str) -> None:
    name = text.strip().rstrip(".").lower()
    valid = bool(name) and all(_LABEL.match(label) for label in name.split("."))
    if valid:
        assert normalize_domain(text) == name
    else:
        with pytest.raises(ValueError):
            normalize_domain(text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://Evil.Example.com/a", "evil.example.com/a"),
        ("http://10.0.0.1:8080/x", "10.0.0.1:8080/x"),
        ("http://010.0.0.1/x", "010.0.0.1/x"),  # not an address: taken as a name
        ("http://1.2.3/x", "1.2.3/x"),
        ("http://-bad-.com/x", None),
    ],
)
def test_url_hosts_are_classified_as_before(url: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            normalize_url(url)
    else:
        assert normalize_url(url) == expected


IDENTIFIERS = [
    "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "x-custom--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "a--b--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f",  # wrong variant
    "indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F",
    "Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\n",
    "--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
]


@pytest.mark.parametrize("value", IDENTIFIERS)
@pytest.mark.parametrize("of_type", [None, "indicator", "b--x"])
def test_identifier_shortcut_matches_the_split_check(value: str, of_type: str | None) -> None:
    obj_type, sep, ident = value.rpartition("--")
    expected = (
        bool(sep)
        and (of_type is None or obj_type == of_type)
        and bool(_TYPE_NAME.match(obj_type))
        and bool(_UUID.match(ident))
    )
    assert is_identifier(value, of_type) == expected


@pytest.mark.parametrize(
    "stamp",
    ["2025-01-01T00:00:00Z", "2025-06-30T12:34:56.789Z", "2024-02-29T23:59:59.123456789Z"],
)
def test_cached_timestamp_conversions(stamp: str) -> None:
    micros = to_micros(parse_stix_timestamp(stamp))
    assert stix_micros(stamp) == micros
    assert canonical_stamp(stamp) == format_micros(micros)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", canonical_stamp(stamp))


def test_cached_conversions_still_refuse() -> None:
    with pytest.raises(ValueError, match="invalid date or time"):
        stix_micros("2025-02-30T00:00:00Z")
    with pytest.raises(ValueError, match="timestamp must be a string"):
        stix_micros(1735689600)  # type: ignore[arg-type]


# `$` matches before a final newline; every anchored check must use `\Z`, or a value with a
# trailing newline would pass the general code (the fast paths use fullmatch and refuse it).
_ID = "indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c8"


@pytest.mark.parametrize("value", [_ID + "\n", "indicator\n--" + _ID.split("--")[1]])
def test_an_identifier_with_a_newline_is_refused(value: str) -> None:
    assert not is_identifier(value)


@pytest.mark.parametrize("stamp", ["2024-01-01T00:00:00Z\n", "2024-01-01T00:00:00.123Z\n"])
def test_a_timestamp_with_a_trailing_newline_is_refused(stamp: str) -> None:
    with pytest.raises(ValueError):
        stix_micros(stamp)


def test_a_domain_label_with_a_newline_is_refused() -> None:
    with pytest.raises(ValueError):
        normalize_domain("a\n.example.com")
