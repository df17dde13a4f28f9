"""The fictional example case that ``accord quickstart`` and the docs use.

The Civil Service Records Office of Ruritania (CSRO) finds in April 2026 an intrusion that
began in December 2025. A partner CERT in a third country (Valdoria) has tracked the
intrusion set GREY HERON for years and shares its GREEN indicators. A newspaper blames
"Freedonia" on the word of anonymous officials. Every name is invented; no real country,
agency or person is named as a perpetrator.

* ``partner-intel.json``: the partner node's data, created by ``PARTNER_IDENTITY_ID``:
  GREY HERON, HeronLoader and its hashes, the C2 domain and address (GREEN), a victim note
  and a staging server (AMBER), a monitored server and a source note (RED).
* ``csro-incident.json``: CSRO's own incident (with accord's timeline extension: detected
  2026-04-14, 4,000,000 records), the attachment and loader hashes, the C2 domain it saw,
  and the ATT&CK techniques its responders observed.

The example nodes are created with these identity ids so that the objects' creators are
the nodes that hold them.
"""

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
PARTNER_BUNDLE = EXAMPLES_DIR / "partner-intel.json"
CSRO_BUNDLE = EXAMPLES_DIR / "csro-incident.json"

PARTNER_IDENTITY_ID = "identity--255dcfae-16cb-56d8-b58b-1597b75027de"
PARTNER_NAME = "Valdorian National CERT"
CSRO_IDENTITY_ID = "identity--78e67c3c-13d9-5d48-9304-935869cc3260"
CSRO_NAME = "Civil Service Records Office of Ruritania (CSRO)"
INCIDENT_ID = "incident--b0cdbf98-b5c8-5a34-b6e0-6a0bdcb00494"
GREY_HERON_ID = "intrusion-set--448f54b2-7885-5f4a-891c-3a300f9e5182"
C2_DOMAIN = "update-cdn-sync.net"
C2_ADDRESS = "203.0.113.47"
ALLEGED_STATE = "Freedonia"
