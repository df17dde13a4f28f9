"""Sovereign federation: a TAXII 2.1 server, sharing policy with redaction, peer sync and
signed provenance.

Every node is equal and there is no hub: each one decides what leaves it (``policy``,
``redaction``, ``view``), signs what it creates (``signing``), and checks what comes in
(``intake``) whichever path it took (``server`` for pushes, ``sync`` for pulls).
"""
