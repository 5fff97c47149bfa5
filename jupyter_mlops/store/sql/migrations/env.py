"""Alembic environment: always driven from code with a connection already in a transaction."""

from alembic import context

from jupyter_mlops.store.sql.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic revision --autogenerate` during development
    import sqlalchemy as sa

    url = context.config.get_main_option("sqlalchemy.url") or "sqlite://"
    connection = sa.create_engine(url).connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
