"""Ingest: STIX bundles, MISP events, CSV, free text and knowledge bases into the store."""
