"""Persistence: every STIX version kept whole, with indexes beside it (SQLite or PostgreSQL)."""

from accord.store.store import Store, WriteResult

__all__ = ["Store", "WriteResult"]
