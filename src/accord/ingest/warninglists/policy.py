"""Which MISP warninglists *suppress* a value and which only *annotate* it, and why.

A warninglist says "this value is known and usually harmless". That can mean two things:

* **suppress**: the value is benign infrastructure or a special-use value (private and
  reserved ranges, CDNs and cloud provider ranges, public DNS resolvers, research scanners,
  sinkholes, the few thousand most popular sites, hashes of empty or well-known benign
  files). An indicator naming it is almost certainly a false positive, and hunting it in
  logs would flood an analyst with hits. The retro-hunt and imports may drop it.
* **annotate**: the value is merely *popular* or *of a category* (top-1M popularity lists,
  VPN ranges, dynamic DNS, URL shorteners, file-sharing services, universities, banks…).
  Attackers compromise popular sites, rent VPNs and host payloads on trusted platforms, so
  such a match is shown to the analyst but never hides the value.

The line between the two is drawn at *ten thousand* for popularity lists: a top-10k site is
benign infrastructure for practical purposes, a top-1M site is not.

Lists accord has not reviewed (a newer ``pymispwarninglists`` may add some) only annotate:
nothing is hidden on a list nobody has looked at.

Two further roles are decided here because they change how a match through a *parent
domain* is read (see :mod:`accord.ingest.warninglists.lookup`):

* **shared parents** (:data:`SHARED_PARENT_LISTS`): public suffixes, dynamic DNS zones,
  "living off trusted sites" platforms and IPFS gateways. Names under them belong to other
  parties (``evil.blogspot.com`` is not Google's), so a suppressing match found through such
  a parent is downgraded to an annotation;
* **email-domain lists** (:data:`EMAIL_DOMAIN_LISTS`): lists whose domains are meant to be
  matched against the domain of an email address (disposable mail providers). Other domain
  lists are *not* applied to email addresses: ``attacker@gmail.com`` is not benign because
  ``gmail.com`` is popular.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Effect = Literal["suppress", "annotate"]
SUPPRESS: Effect = "suppress"
ANNOTATE: Effect = "annotate"

# How entries of a list are matched (stored in ``warninglists.list_type``):
#   cidr      addresses and networks; an address or network matches any listed network
#             containing it
#   string    exact value only
#   hostname  a domain matches an equal entry or any listed parent domain
MATCH_TYPES = ("cidr", "string", "hostname")


@dataclass(frozen=True, slots=True)
class ListPolicy:
    """accord's reading of one MISP list. ``match`` overrides the type derived from MISP."""

    effect: Effect
    reason: str
    match: str | None = None


_SPECIAL = "special-use or reserved addresses: never a meaningful external indicator"
_CLOUD = "CDN or cloud provider ranges: shared infrastructure, an address there is not an actor"
_MAIL = "large mail providers' servers: shared by millions of senders and recipients"
_SCANNER = "a known research scanner: its traffic is noise, not an intrusion"
_TOP = "among the 10,000 most popular sites: benign infrastructure for practical purposes"
_POPULAR = "a popularity list beyond the top 10,000: attackers use compromised popular sites"
_HASH = "hash of an empty, test or well-known benign file: a false positive in IOC feeds"

POLICIES: dict[str, ListPolicy] = {
    # --- special-use and reserved values -------------------------------------------------
    "rfc1918": ListPolicy(SUPPRESS, _SPECIAL),
    "rfc3849": ListPolicy(SUPPRESS, _SPECIAL),
    "rfc5735": ListPolicy(SUPPRESS, _SPECIAL),
    "rfc6598": ListPolicy(SUPPRESS, _SPECIAL),
    "multicast": ListPolicy(SUPPRESS, _SPECIAL),
    "ipv6-linklocal": ListPolicy(SUPPRESS, _SPECIAL),
    "rfc6761": ListPolicy(
        SUPPRESS,
        "special-use domain names; RFC 6761 reserves each name with all its subdomains",
        match="hostname",
    ),
    "tlds": ListPolicy(SUPPRESS, "a bare top-level domain is never an indicator (exact only)"),
    "second-level-tlds": ListPolicy(
        SUPPRESS, "a bare public suffix is never an indicator (exact only)"
    ),
    # --- public DNS resolvers ------------------------------------------------------------
    "public-dns-v4": ListPolicy(SUPPRESS, "public DNS resolver: queried by everyone"),
    "public-dns-v6": ListPolicy(SUPPRESS, "public DNS resolver: queried by everyone"),
    "public-dns-hostname": ListPolicy(
        SUPPRESS,
        "public DNS resolver: queried by everyone; a resolver's name covers that host only "
        "(the MISP list also holds bare registrable names such as example.com)",
        match="string",
    ),
    # --- CDNs, cloud and hosting providers ------------------------------------------------
    "akamai": ListPolicy(SUPPRESS, _CLOUD),
    "cloudflare": ListPolicy(SUPPRESS, _CLOUD),
    "fastly": ListPolicy(SUPPRESS, _CLOUD),
    "stackpath": ListPolicy(SUPPRESS, _CLOUD),
    "amazon-aws": ListPolicy(SUPPRESS, _CLOUD),
    "google-gcp": ListPolicy(SUPPRESS, _CLOUD),
    "microsoft-azure": ListPolicy(SUPPRESS, _CLOUD),
    "microsoft-azure-china": ListPolicy(SUPPRESS, _CLOUD),
    "microsoft-azure-germany": ListPolicy(SUPPRESS, _CLOUD),
    "microsoft-azure-us-gov": ListPolicy(SUPPRESS, _CLOUD),
    "microsoft-office365-ip": ListPolicy(SUPPRESS, _CLOUD),
    "microsoft-office365-cn": ListPolicy(SUPPRESS, _CLOUD),
    "apple": ListPolicy(SUPPRESS, _CLOUD),
    "github": ListPolicy(SUPPRESS, _CLOUD),
    "wikimedia": ListPolicy(SUPPRESS, _CLOUD),
    "ovh-cluster": ListPolicy(SUPPRESS, "shared web hosting cluster: thousands of sites per IP"),
    "zscaler": ListPolicy(SUPPRESS, "security proxy egress: every customer's traffic leaves here"),
    "crl-ip": ListPolicy(SUPPRESS, "certificate revocation (CRL/OCSP) service"),
    "crl-hostname": ListPolicy(SUPPRESS, "certificate revocation (CRL/OCSP) service"),
    # --- mail infrastructure --------------------------------------------------------------
    "google-gmail-sending-ips": ListPolicy(SUPPRESS, _MAIL),
    "smtp-sending-ips": ListPolicy(SUPPRESS, _MAIL),
    "smtp-receiving-ips": ListPolicy(SUPPRESS, _MAIL),
    # --- crawlers and research scanners ---------------------------------------------------
    "googlebot": ListPolicy(SUPPRESS, "search engine crawler"),
    "openai-gptbot": ListPolicy(SUPPRESS, "AI crawler"),
    "alphastrike-scanning": ListPolicy(SUPPRESS, _SCANNER),
    "censys-scanning": ListPolicy(SUPPRESS, _SCANNER),
    "netsecscan-scanning": ListPolicy(SUPPRESS, _SCANNER),
    "shadowforce-scanning": ListPolicy(SUPPRESS, _SCANNER),
    "shadowserver": ListPolicy(SUPPRESS, _SCANNER),
    "shodan-scanning": ListPolicy(SUPPRESS, _SCANNER),
    "modat-scanner": ListPolicy(SUPPRESS, _SCANNER),
    "onyphe-scanner": ListPolicy(SUPPRESS, _SCANNER),
    "tenable-cloud-ipv4": ListPolicy(SUPPRESS, _SCANNER),
    "tenable-cloud-ipv6": ListPolicy(SUPPRESS, _SCANNER),
    "check-host-net": ListPolicy(SUPPRESS, "availability-check probes: benign monitoring"),
    # (the *-nt-scanning lists from the CIRCL network telescope are handled by suffix below)
    # --- sinkholes, block pages, parking ---------------------------------------------------
    "sinkholes": ListPolicy(SUPPRESS, "security vendor sinkhole: the domain was taken over"),
    "umbrella-blockpage-v4": ListPolicy(SUPPRESS, "DNS filtering block page"),
    "umbrella-blockpage-v6": ListPolicy(SUPPRESS, "DNS filtering block page"),
    "umbrella-blockpage-hostname": ListPolicy(SUPPRESS, "DNS filtering block page"),
    "parking-domain": ListPolicy(SUPPRESS, "domain parking service: shared by parked domains"),
    "parking-domain-ns": ListPolicy(SUPPRESS, "domain parking name servers"),
    # --- vendor-owned names and benign services --------------------------------------------
    # These string lists write "and every subdomain" as a leading dot (".google.ad"); accord
    # applies that reading to the whole list (a vendor's listed names are the vendor's).
    "google": ListPolicy(SUPPRESS, "Google-owned domains", match="hostname"),
    "microsoft": ListPolicy(SUPPRESS, "Microsoft-owned domains", match="hostname"),
    "microsoft-win10-connection-endpoints": ListPolicy(
        SUPPRESS, "Windows telemetry and update endpoints", match="hostname"
    ),
    "microsoft-office365": ListPolicy(SUPPRESS, "Office 365 service endpoints"),
    "captive-portals": ListPolicy(SUPPRESS, "operating system connectivity checks"),
    "findip-host": ListPolicy(SUPPRESS, "what-is-my-IP service: sandbox reports are full of it"),
    "whats-my-ip": ListPolicy(SUPPRESS, "what-is-my-IP service: sandbox reports are full of it"),
    "automated-malware-analysis": ListPolicy(
        SUPPRESS, "malware analysis services and security vendors (seen in sandbox reports)"
    ),
    "microsoft-attack-simulator": ListPolicy(
        SUPPRESS, "Microsoft 365 phishing-awareness simulator: training, not an attack"
    ),
    "security-provider-blogpost": ListPolicy(
        SUPPRESS, "security vendor blogs: references copied into IOC lists"
    ),
    # Shared platforms: the bare service name is benign (suppress exact match), but names
    # *under* them belong to other parties; see SHARED_PARENT_LISTS.
    "lots-project": ListPolicy(
        SUPPRESS, "trusted platform (LOTS project); content under it is anyone's"
    ),
    "dynamic-dns": ListPolicy(
        SUPPRESS, "dynamic DNS provider zone; names under it are anyone's (and often hostile)"
    ),
    "url-shortener": ListPolicy(SUPPRESS, "URL shortener service; a short link is still checked"),
    "link-in-bio": ListPolicy(SUPPRESS, "link-in-bio service; a user's page is still checked"),
    "public-ipfs-gateways": ListPolicy(
        SUPPRESS, "public IPFS gateway; content under it is anyone's"
    ),
    # --- top 10,000 ------------------------------------------------------------------------
    "tranco10k": ListPolicy(SUPPRESS, _TOP),
    "cisco_top1000": ListPolicy(SUPPRESS, _TOP),
    "cisco_top5k": ListPolicy(SUPPRESS, _TOP),
    "cisco_top10k": ListPolicy(SUPPRESS, _TOP),
    "majestic_million": ListPolicy(SUPPRESS, _TOP + " (the MISP list holds Majestic's top 10k)"),
    "alexa": ListPolicy(SUPPRESS, _TOP + " (Alexa top 1,000)"),
    "moz-top500": ListPolicy(SUPPRESS, _TOP + " (Moz top 500)"),
    "dax30": ListPolicy(SUPPRESS, "the web domains of the 30 DAX companies"),
    # --- benign hashes -----------------------------------------------------------------------
    "empty-hashes": ListPolicy(SUPPRESS, _HASH),
    "eicar.com": ListPolicy(SUPPRESS, "EICAR anti-virus test file: a test, not an incident"),
    "common-ioc-false-positive": ListPolicy(SUPPRESS, _HASH),
    "ti-falsepositives": ListPolicy(SUPPRESS, _HASH),
    "nioc-filehash": ListPolicy(SUPPRESS, _HASH),
    "mozilla-CA": ListPolicy(SUPPRESS, "trusted root CA certificate fingerprint"),
    "mozilla-IntermediateCA": ListPolicy(SUPPRESS, "trusted intermediate CA fingerprint"),
    # --- annotate only -------------------------------------------------------------------------
    "tranco": ListPolicy(ANNOTATE, _POPULAR + " (Tranco top 1M)"),
    "google-chrome-crux-1million": ListPolicy(ANNOTATE, _POPULAR + " (Chrome UX top 1M)"),
    "cisco_top20k": ListPolicy(ANNOTATE, _POPULAR + " (Cisco Umbrella top 20k)"),
    "vpn-ipv4": ListPolicy(ANNOTATE, "VPN provider or datacenter: attackers rent these too"),
    "vpn-ipv6": ListPolicy(ANNOTATE, "VPN provider or datacenter: attackers rent these too"),
    "digitalside": ListPolicy(
        ANNOTATE, "file-hosting services often seen in malware delivery; context only"
    ),
    "university_domains": ListPolicy(
        ANNOTATE, "university domain: often compromised, and the list is not curated"
    ),
    "bank-website": ListPolicy(
        ANNOTATE, "bank domain: a phishing target; lapsed names get re-registered"
    ),
    "disposable-email": ListPolicy(ANNOTATE, "disposable email provider: a signal, not benign"),
    "covid": ListPolicy(ANNOTATE, "2020 COVID-19 allow-list: stale, names were re-registered"),
    "covid-19-cyber-threat-coalition-whitelist": ListPolicy(
        ANNOTATE, "2020 COVID-19 allow-list: stale, names were re-registered"
    ),
    "covid-19-krassi-whitelist": ListPolicy(
        ANNOTATE, "2020 COVID-19 allow-list: stale, names were re-registered"
    ),
    "microsoft-azure-appid": ListPolicy(
        ANNOTATE, "Azure application ids: no observable kind in accord, nothing is loaded"
    ),
}

# Parents on these lists host other parties' names: a suppressing match through them (or
# through a parent above them) only annotates.
SHARED_PARENT_LISTS = frozenset(
    {
        "second-level-tlds",
        "tlds",
        "dynamic-dns",
        "lots-project",
        "public-ipfs-gateways",
    }
)

# Lists applied to the domain part of email addresses.
EMAIL_DOMAIN_LISTS = frozenset({"disposable-email"})

# MISP list types accord loads and how they are matched. ``regex`` lists are not loaded:
# their entries are PCRE patterns written for PHP (``/…/i``), and compiling list content
# as a regular expression would expose every lookup to catastrophic backtracking; the two
# such lists today hold contact mailbox names and phone numbers, which are not observable
# kinds in accord. ``substring`` lists hold domains and addresses in practice; raw substring
# matching would make ``mail.com`` match ``gmail.com``, so their entries are matched on
# label boundaries instead (the name itself or any subdomain), like a hostname list.
MISP_TYPE_MATCH = {"cidr": "cidr", "string": "string", "hostname": "hostname"}
MISP_TYPE_MATCH["substring"] = "hostname"
SKIPPED_MISP_TYPES = {
    "regex": "regular-expression list: not evaluated (untrusted patterns, no matching kind)"
}

_NT_SCANNING = ListPolicy(SUPPRESS, _SCANNER + " (CIRCL network telescope)")
_UNREVIEWED = ListPolicy(ANNOTATE, "not reviewed by accord: annotates only until classified")


def policy_for(name: str) -> ListPolicy:
    """The policy of a list by its MISP directory name; unknown lists only annotate."""
    policy = POLICIES.get(name)
    if policy is not None:
        return policy
    if name.endswith("-nt-scanning"):
        return _NT_SCANNING
    return _UNREVIEWED


def match_type(name: str, misp_type: str) -> str:
    """How accord matches a list: the policy's override, else the MISP type's reading."""
    override = policy_for(name).match
    if override is not None:
        return override
    return MISP_TYPE_MATCH[misp_type]
