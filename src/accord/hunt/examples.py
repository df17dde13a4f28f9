"""The example case's network logs: small Zeek dns/conn/ssl logs of the fictional CSRO network.

December 2025 to 20 April 2026, mostly benign traffic of about forty hosts, plus the
intrusion: from 2 December 2025 one workstation resolves ``update-cdn-sync.net`` names and
beacons to ``203.0.113.47`` over TLS every couple of days, later joined by a file server.
Generated deterministically (a fixed seed), so every quickstart and test sees the same logs
and the same first trace. All addresses are private or documentation ranges (RFC 5737),
and all names are invented or reserved.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

C2_DOMAIN = "update-cdn-sync.net"
C2_ADDRESS = "203.0.113.47"
FIRST_TRACE = datetime(2025, 12, 2, 9, 14, 27, tzinfo=UTC)
START = datetime(2025, 12, 1, tzinfo=UTC)
END = datetime(2026, 4, 20, tzinfo=UTC)
RESOLVER = "10.20.0.53"
PATIENT_ZERO = "10.20.4.17"
FILE_SERVER = "10.20.1.8"

_BENIGN = (
    ("intranet.csro.example", "10.20.0.80"),
    ("mail.csro.example", "10.20.0.25"),
    ("hr-portal.csro.example", "10.20.0.81"),
    ("www.example.com", "192.0.2.10"),
    ("updates.example.net", "192.0.2.44"),
    ("cdn.example.org", "198.51.100.5"),
    ("time.example.net", "192.0.2.123"),
    ("news.example.org", "198.51.100.80"),
    ("weather.example.com", "192.0.2.200"),
    ("docs.example.net", "198.51.100.140"),
)
_C2_NAMES = (f"api.{C2_DOMAIN}", f"cdn1.{C2_DOMAIN}", C2_DOMAIN)

_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
    "#path\t{path}\n#open\t2025-12-01-00-00-00\n#fields\t{fields}\n#types\t{types}\n"
)
_LOGS = {
    "dns": (
        "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id query qtype_name "
        "rcode_name answers TTLs",
        "time string addr port addr port enum count string string string vector[string] "
        "vector[interval]",
    ),
    "conn": (
        "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes "
        "resp_bytes conn_state",
        "time string addr port addr port enum string interval count count string",
    ),
    "ssl": (
        "ts uid id.orig_h id.orig_p id.resp_h id.resp_p version cipher server_name established",
        "time string addr port addr port string string string bool",
    ),
}


def _uid(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "C" + "".join(rng.choice(alphabet) for _ in range(17))


def _ts(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def _events(rng: random.Random) -> dict[str, list[tuple[datetime, str]]]:
    logs: dict[str, list[tuple[datetime, str]]] = {"dns": [], "conn": [], "ssl": []}
    hosts = [f"10.20.{rng.randint(2, 6)}.{rng.randint(10, 250)}" for _ in range(40)]

    def session(moment: datetime, host: str, name: str, address: str, tls: bool) -> None:
        uid_dns, uid_conn = _uid(rng), _uid(rng)
        port = rng.randint(32768, 60999)
        logs["dns"].append(
            (
                moment,
                "\t".join(
                    [
                        _ts(moment),
                        uid_dns,
                        host,
                        str(port),
                        RESOLVER,
                        "53",
                        "udp",
                        str(rng.randint(1, 65535)),
                        name,
                        "A",
                        "NOERROR",
                        address,
                        f"{rng.choice([60, 300, 3600])}.000000",
                    ]
                ),
            )
        )
        start = moment + timedelta(milliseconds=rng.randint(5, 80))
        service = "ssl" if tls else "http"
        logs["conn"].append(
            (
                start,
                "\t".join(
                    [
                        _ts(start),
                        uid_conn,
                        host,
                        str(rng.randint(32768, 60999)),
                        address,
                        "443" if tls else "80",
                        "tcp",
                        service,
                        f"{rng.uniform(0.05, 30):.6f}",
                        str(rng.randint(200, 9000)),
                        str(rng.randint(500, 900000)),
                        "SF",
                    ]
                ),
            )
        )
        if tls:
            hello = start + timedelta(milliseconds=rng.randint(1, 20))
            logs["ssl"].append(
                (
                    hello,
                    "\t".join(
                        [
                            _ts(hello),
                            uid_conn,
                            host,
                            str(rng.randint(32768, 60999)),
                            address,
                            "443",
                            "TLSv13",
                            "TLS_AES_128_GCM_SHA256",
                            name,
                            "T",
                        ]
                    ),
                )
            )

    day = START
    while day < END:
        for _ in range(7):
            moment = day + timedelta(seconds=rng.randint(6 * 3600, 20 * 3600))
            name, address = rng.choice(_BENIGN)
            session(moment, rng.choice(hosts), name, address, tls=rng.random() < 0.6)
        day += timedelta(days=1)
    beacon = FIRST_TRACE
    while beacon < END:
        host = (
            PATIENT_ZERO
            if beacon < datetime(2026, 2, 1, tzinfo=UTC)
            else rng.choice((PATIENT_ZERO, FILE_SERVER))
        )
        session(
            beacon,
            host,
            rng.choice(_C2_NAMES) if beacon != FIRST_TRACE else _C2_NAMES[0],
            C2_ADDRESS,
            tls=True,
        )
        beacon += timedelta(days=rng.randint(2, 4), seconds=rng.randint(0, 7200))
    return logs


def write_example_logs(directory: Path) -> list[Path]:
    """Write ``dns.log``, ``conn.log`` and ``ssl.log`` for the example case; return their paths.

    The output is byte-for-byte the same on every call (about 300 KB in all).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20251202)
    events = _events(rng)
    written: list[Path] = []
    for name, (fields, types) in _LOGS.items():
        rows = sorted(events[name], key=lambda item: item[0])
        header = _HEADER.format(
            path=name, fields="\t".join(fields.split()), types="\t".join(types.split())
        )
        body = "".join(line + "\n" for _, line in rows)
        target = directory / f"{name}.log"
        target.write_text(header + body + "#close\t2026-04-20-00-00-00\n", "utf-8")
        written.append(target)
    return written
