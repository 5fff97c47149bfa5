"""events, schedules and leases for pipeline scheduling and triggers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_parent_run_id'), ['parent_run_id'], unique=False)

    op.create_table(
        'events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('key', sa.String(length=256), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_type_key_id'), ['type', 'key', 'id'], unique=False)

    op.create_table(
        'leases',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('holder', sa.String(length=256), nullable=False),
        sa.Column('expires_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_leases')),
    )
    op.create_table(
        'schedules',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('pipeline_path', sa.Text(), nullable=False),
        sa.Column('pipeline', sa.String(length=256), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('cron', sa.String(length=256), nullable=True),
        sa.Column('timezone', sa.String(length=64), nullable=True),
        sa.Column('event_type', sa.String(length=64), nullable=True),
        sa.Column('event_key', sa.String(length=256), nullable=True),
        sa.Column('params', sa.JSON(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('missed', sa.String(length=8), nullable=False),
        sa.Column('next_run_time', sa.BigInteger(), nullable=True),
        sa.Column('event_cursor', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('last_run_time', sa.BigInteger(), nullable=True),
        sa.Column('last_run_id', sa.String(length=32), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('created_by', sa.String(length=256), server_default='', nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_schedules')),
    )


def downgrade() -> None:
    op.drop_table('schedules')
    op.drop_table('leases')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_type_key_id'))
    op.drop_table('events')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_parent_run_id'))
