"""Alembic environment: migrations run on the connection the store hands over."""

from alembic import context

from accord.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via `alembic` on the command line
    raise SystemExit("run migrations through accord (accord init / Store.open)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
