"""Expiring named leases in the SQL store (:class:`~jupyter_mlops.store.base.LeaseStore`).

``acquire_lease`` is one conditional ``UPDATE`` (taken when free, expired or already ours),
or an ``INSERT`` of a new row that a primary key makes unique; so one holder at a time,
whatever the number of processes. The scheduler leads while it holds the ``scheduler`` lease.

Needs from the class it is mixed into: ``engine`` and ``_write``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .base import SqlBase
from .schema import leases


class LeasesMixin(SqlBase):
    def acquire_lease(self, name: str, holder: str, ttl_ms: int, now_ms: int) -> bool:
        """Take or renew the lease ``name`` for ``ttl_ms``; False while another holds it."""

        def take(conn: Connection) -> bool:
            stmt = (
                sa.update(leases)
                .where(
                    leases.c.name == name,
                    sa.or_(leases.c.holder == holder, leases.c.expires_at < now_ms),
                )
                .values(holder=holder, expires_at=now_ms + ttl_ms)
            )
            if conn.execute(stmt).rowcount == 1:
                return True
            exists = conn.execute(sa.select(leases.c.name).where(leases.c.name == name)).first()
            if exists is not None:
                return False
            conn.execute(
                sa.insert(leases).values(name=name, holder=holder, expires_at=now_ms + ttl_ms)
            )
            return True

        try:
            return bool(self._write(take))
        except sa.exc.IntegrityError:  # another process inserted the row first
            return False

    def release_lease(self, name: str, holder: str) -> None:
        stmt = sa.delete(leases).where(leases.c.name == name, leases.c.holder == holder)
        self._write(lambda conn: conn.execute(stmt))

    def lease_holder(self, name: str, now_ms: int) -> str | None:
        stmt = sa.select(leases.c.holder).where(
            leases.c.name == name, leases.c.expires_at >= now_ms
        )
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar()
