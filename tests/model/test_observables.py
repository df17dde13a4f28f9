"""Observable normalisation and STIX pattern decomposition, with property tests."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.model.observables import (
    Observable,
    PatternNotSimple,
    classify,
    normalize,
    normalize_domain,
    normalize_hash,
    normalize_ip,
    normalize_url,
    parent_domains,
    parse_simple_pattern,
    pattern_for,
    pattern_observables,
    sco_observables,
    url_host,
)

SHA256 = "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"
MD5 = "a3cca2b2aa1e3b5b3b5aad99a8529074"
SHA1 = "d3486ae9136e7856bc42212385ea797094475802"


# --- normalisation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("198.51.100.7", Observable("ipv4", "198.51.100.7")),
        (" 198.51.100.7 ", Observable("ipv4", "198.51.100.7")),
        ("2001:DB8:0:0:0:0:0:1", Observable("ipv6", "2001:db8::1")),
        ("198.51.100.77/24", Observable("ipv4-net", "198.51.100.0/24")),
        ("198.51.100.7/32", Observable("ipv4", "198.51.100.7")),
        ("2001:db8::1/128", Observable("ipv6", "2001:db8::1")),
        ("2001:db8:0:0:1::/48", Observable("ipv6-net", "2001:db8::/48")),
    ],
)
def test_normalize_ip(text: str, expected: Observable) -> None:
    assert normalize_ip(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Evil.Example.", "evil.example"),
        ("UPDATE.glassvine.EXAMPLE", "update.glassvine.example"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
        ("пример.испытание", "xn--e1afmkfd.xn--80akhbyknj4f"),
        ("_dmarc.evil.example", "_dmarc.evil.example"),
    ],
)
def test_normalize_domain(text: str, expected: str) -> None:
    assert normalize_domain(text) == expected


@pytest.mark.parametrize("text", ["", ".", "bad..example", "-lead.example", "sp ace.example"])
def test_normalize_domain_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        normalize_domain(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://evil.example/a", "evil.example/a"),
        ("HTTP://EVIL.example:80/Path/To", "evil.example/Path/To"),
        ("https://evil.example:443/", "evil.example/"),
        ("https://evil.example", "evil.example/"),
        ("hxxp://evil.example/a", "evil.example/a"),
        ("evil.example/a?b=C", "evil.example/a?b=C"),
        ("http://evil.example:443/x", "evil.example:443/x"),
        ("https://evil.example:8443/gate.php?id=42", "evil.example:8443/gate.php?id=42"),
        ("http://user:pw@evil.example/x#frag", "evil.example/x"),
        ("http://198.51.100.7:8080/x", "198.51.100.7:8080/x"),
        ("http://[2001:DB8::1]/x", "[2001:db8::1]/x"),
        ("http://bücher.example/ä", "xn--bcher-kva.example/ä"),
    ],
)
def test_normalize_url(text: str, expected: str) -> None:
    assert normalize_url(text) == expected


def test_url_host() -> None:
    assert url_host("evil.example:8443/x") == "evil.example"
    assert url_host("[2001:db8::1]:80/x") == "2001:db8::1"
    assert url_host("198.51.100.7/x") == "198.51.100.7"


def test_normalize_hash() -> None:
    assert normalize_hash(SHA256.upper()) == Observable("sha256", SHA256)
    assert normalize_hash(MD5, "MD5") == Observable("md5", MD5)
    assert normalize_hash(SHA1.upper(), "SHA-1") == Observable("sha1", SHA1)
    with pytest.raises(ValueError, match="sha256 must have 64 hex digits"):
        normalize_hash(MD5, "SHA-256")
    with pytest.raises(ValueError, match="not hexadecimal"):
        normalize_hash("z" * 32)
    with pytest.raises(ValueError, match="unsupported hash"):
        normalize_hash("ab" * 10)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("198.51.100.7", "ipv4", "198.51.100.7"),
        ("198.51.100.0/24", "ipv4-net", "198.51.100.0/24"),
        ("2001:db8::1", "ipv6", "2001:db8::1"),
        ("Evil.Example", "domain", "evil.example"),
        ("http://Evil.Example/x", "url", "evil.example/x"),
        ("evil.example/x", "url", "evil.example/x"),
        ("Clerk@Ministry.Example", "email", "clerk@ministry.example"),
        (SHA256.upper(), "sha256", SHA256),
        (MD5, "md5", MD5),
        (SHA1, "sha1", SHA1),
    ],
)
def test_classify(text: str, kind: str, value: str) -> None:
    assert classify(text) == Observable(kind, value)


def test_classify_and_normalize_errors() -> None:
    with pytest.raises(ValueError, match="empty value"):
        classify("  ")
    with pytest.raises(ValueError, match="unknown observable kind"):
        normalize("phone", "123")


def test_parent_domains() -> None:
    assert parent_domains("a.b.evil.example") == [
        "a.b.evil.example",
        "b.evil.example",
        "evil.example",
        "example",
    ]


# --- pattern decomposition ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ipv4-addr:value = '198.51.100.7']", [Observable("ipv4", "198.51.100.7")]),
        ("[ipv6-addr:value = '2001:DB8::1']", [Observable("ipv6", "2001:db8::1")]),
        ("[ipv4-addr:value = '198.51.100.0/24']", [Observable("ipv4-net", "198.51.100.0/24")]),
        (
            "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
            [Observable("ipv4-net", "198.51.100.0/24")],
        ),
        ("[domain-name:value = 'Evil.Example']", [Observable("domain", "evil.example")]),
        ("[url:value = 'HTTP://Evil.Example:80/a']", [Observable("url", "evil.example/a")]),
        ("[email-addr:value = 'Boss@Evil.Example']", [Observable("email", "boss@evil.example")]),
        (
            "[email-message:from_ref.value = 'boss@evil.example']",
            [Observable("email", "boss@evil.example")],
        ),
        (f"[file:hashes.'SHA-256' = '{SHA256.upper()}']", [Observable("sha256", SHA256)]),
        (f"[file:hashes.'MD5' = '{MD5}']", [Observable("md5", MD5)]),
        (f"[file:hashes.'SHA-1' = '{SHA1}']", [Observable("sha1", SHA1)]),
        (f"[file:hashes.sha256 = '{SHA256}']", [Observable("sha256", SHA256)]),
        (f"[artifact:hashes.'SHA-256' = '{SHA256}']", [Observable("sha256", SHA256)]),
        (
            "[ipv4-addr:value = '198.51.100.7' OR ipv4-addr:value = '198.51.100.8']",
            [Observable("ipv4", "198.51.100.7"), Observable("ipv4", "198.51.100.8")],
        ),
        (
            "[domain-name:value = 'a.example'] OR [url:value = 'http://b.example/x'] "
            f"OR [file:hashes.'SHA-256' = '{SHA256}' OR file:hashes.'MD5' = '{MD5}']",
            [
                Observable("domain", "a.example"),
                Observable("url", "b.example/x"),
                Observable("sha256", SHA256),
                Observable("md5", MD5),
            ],
        ),
        (  # the same value twice is indexed once
            "[ipv4-addr:value = '198.51.100.7'] OR [ipv4-addr:value = '198.51.100.7']",
            [Observable("ipv4", "198.51.100.7")],
        ),
        (  # an escaped quote survives
            "[url:value = 'http://evil.example/it\\'s']",
            [Observable("url", "evil.example/it's")],
        ),
        ("[ipv4-addr:value = 'domain autuo.xicp.net']", []),  # malformed value: not indexed
        ("[file:name = 'invoice.exe']", []),  # not an indexed path
        ("[x-acme-widget:value = 'x']", []),
    ],
)
def test_simple_patterns_decompose(pattern: str, expected: list[Observable]) -> None:
    assert pattern_observables(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (f"[file:hashes.MD5 = '{MD5}']", Observable("md5", MD5)),
        (f"[file:hashes.SHA256 = '{SHA256}']", Observable("sha256", SHA256)),
        (f"[file:hashes.SHA1 = '{SHA1}']", Observable("sha1", SHA1)),
    ],
)
def test_unquoted_upper_case_hash_names_decompose(pattern: str, expected: Observable) -> None:
    assert pattern_observables(pattern) == [expected]


@pytest.mark.parametrize(
    "pattern",
    [
        "[ipv4-addr:value = '198.51.100.7' AND ipv4-addr:value = '198.51.100.8']",
        "[ipv4-addr:value = '198.51.100.7'] AND [domain-name:value = 'evil.example']",
        "[ipv4-addr:value = '198.51.100.7'] FOLLOWEDBY [domain-name:value = 'evil.example']",
        "[ipv4-addr:value = '198.51.100.7'] WITHIN 60 SECONDS",
        "[ipv4-addr:value = '198.51.100.7'] REPEATS 2 TIMES",
        "[ipv4-addr:value = '198.51.100.7'] START t'2025-01-01T00:00:00Z' "
        "STOP t'2025-02-01T00:00:00Z'",
        "[ipv4-addr:value != '198.51.100.7']",
        "[domain-name:value MATCHES '^evil']",
        "[domain-name:value LIKE '%.evil.example']",
        "[NOT ipv4-addr:value = '198.51.100.7']",
        "([ipv4-addr:value = '198.51.100.7'])",
        "[domain-name:value ISSUBSET 'evil.example']",
    ],
)
def test_complex_patterns_are_not_decomposed(pattern: str) -> None:
    assert pattern_observables(pattern) == []


def test_parse_simple_pattern_raises_for_other_forms() -> None:
    with pytest.raises(PatternNotSimple):
        parse_simple_pattern("[ipv4-addr:value = '1.2.3.4'] AND [ipv4-addr:value = '1.2.3.5']")
    with pytest.raises(PatternNotSimple):
        parse_simple_pattern("")
    assert [
        (t, list(path), op, v)
        for t, path, op, v in parse_simple_pattern("[file:hashes.'SHA-256' = 'ab']")
    ] == [("file", ["hashes", "SHA-256"], "=", "ab")]
    parsed = parse_simple_pattern("[url:value = 'a'] OR [email-message:from_ref.value = 'b']")
    assert [(t, list(path), op, v) for t, path, op, v in parsed] == [
        ("url", ["value"], "=", "a"),
        ("email-message", ["from_ref", "value"], "=", "b"),
    ]


def test_sco_observables() -> None:
    assert sco_observables({"type": "ipv4-addr", "value": "198.51.100.0/24"}) == [
        Observable("ipv4-net", "198.51.100.0/24")
    ]
    assert sco_observables({"type": "domain-name", "value": "Bücher.Example"}) == [
        Observable("domain", "xn--bcher-kva.example")
    ]
    assert sco_observables(
        {"type": "file", "hashes": {"SHA-256": SHA256.upper(), "MD5": MD5, "TLSH": "T1AB"}}
    ) == [Observable("sha256", SHA256), Observable("md5", MD5)]
    assert sco_observables({"type": "email-addr", "value": "not an address"}) == []
    assert sco_observables({"type": "mutex", "name": "Global\\x"}) == []


def test_pattern_for_keeps_the_producers_spelling() -> None:
    obs = Observable("url", "evil.example/it's")
    assert pattern_for(obs, "hxxp://Evil.Example/it's") == (
        "[url:value = 'hxxp://Evil.Example/it\\'s']"
    )
    assert pattern_observables(pattern_for(obs)) == [obs]


# --- property tests ----------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_unicode_label = st.text(alphabet="abcdéüßñøçåжлпя", min_size=1, max_size=8)
_domains = st.lists(st.one_of(_label, _unicode_label), min_size=2, max_size=4).map(".".join)
_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).map(str)
_nets = st.one_of(
    st.builds(lambda a, p: f"{a}/{p}", st.ip_addresses(v=4), st.integers(0, 32)),
    st.builds(lambda a, p: f"{a}/{p}", st.ip_addresses(v=6), st.integers(0, 128)),
)
_paths = st.from_regex(r"(/[A-Za-z0-9_.~-]{0,8}){0,3}(\?[a-z]=[A-Za-z0-9]{1,4})?", fullmatch=True)
_urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTP", "ftp"]),
    st.one_of(_domains, _ipv4, _ipv6.map(lambda a: f"[{a}]")),
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")),
    _paths,
)
_hashes = st.one_of(
    *(st.text(alphabet="0123456789abcdefABCDEF", min_size=n, max_size=n) for n in (32, 40, 64, 128))
)
_emails = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.from_regex(r"[A-Za-z0-9._%+-]{1,12}", fullmatch=True),
    _domains,
)


def _normalizable(kind: str, value: str) -> Observable | None:
    try:
        return normalize(kind, value)
    except ValueError:
        return None  # not every generated IDN is valid IDNA 2003


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.tuples(st.just("ipv4"), _ipv4),
        st.tuples(st.just("ipv6"), _ipv6),
        st.tuples(st.just("ipv4-net"), _nets),
        st.tuples(st.just("domain"), _domains),
        st.tuples(st.just("url"), _urls),
        st.tuples(st.just("email"), _emails),
        st.tuples(st.just("hash"), _hashes),
    )
)
def test_normalisation_is_idempotent_and_pattern_for_round_trips(pair: tuple[str, str]) -> None:
    kind, raw = pair
    obs = _normalizable(kind, raw)
    if obs is None:
        return
    again = normalize(obs.kind, obs.value)
    assert again == obs
    assert classify(obs.value).value == obs.value or obs.kind == "url"
    assert pattern_observables(pattern_for(obs)) == [obs]
    assert pattern_observables(pattern_for(obs, raw)) == [obs]


@settings(max_examples=100, deadline=None)
@given(_nets)
def test_networks_clear_host_bits(net: str) -> None:
    obs = normalize_ip(net)
    parsed = ipaddress.ip_network(net, strict=False)
    if parsed.prefixlen == parsed.max_prefixlen:
        assert obs.kind in ("ipv4", "ipv6")
    else:
        assert obs.is_network and ipaddress.ip_network(obs.value) == parsed
