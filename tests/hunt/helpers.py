"""Small builders for hunt tests: indicators, Zeek TSV text, stores with a node identity."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from accord.model.tlp import TLP, TLP2_IDS

CREATOR = "identity--0f3b3b8e-5f55-4b0c-9b8e-2a7c1d9e6f10"
NODE = "identity--6d1f2c3b-8a9e-4f7d-b2c1-0e9f8a7b6c5d"
STAMP = "2026-01-10T00:00:00.000Z"


def indicator(pattern: str, *, tlp: TLP = TLP.GREEN, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": STAMP,
        "modified": STAMP,
        "created_by_ref": CREATOR,
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": STAMP,
        "object_marking_refs": [TLP2_IDS[tlp]],
        **extra,
    }


def zeek(path: str, fields: str, types: str, rows: list[str]) -> str:
    header = (
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
        f"#path\t{path}\n#open\t2025-12-01-00-00-00\n"
        f"#fields\t{chr(9).join(fields.split())}\n#types\t{chr(9).join(types.split())}\n"
    )
    return header + "".join(r.replace(" ", "\t") + "\n" for r in rows) + "#close\tx\n"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, "utf-8")
    return path


TS = "1764669600.000000"  # 2025-12-02T10:00:00Z
TS2 = "1765000000.500000"  # 2025-12-06T05:46:40.5Z
