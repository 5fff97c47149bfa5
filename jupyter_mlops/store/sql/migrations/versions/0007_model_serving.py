"""serving: model server records, recorded predictions (Arrow batches), their labels

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 15:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'model_servers',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('ref', sa.String(length=300), nullable=False),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('host', sa.String(length=256), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=True),
        sa.Column('pid_start', sa.BigInteger(), nullable=True),
        sa.Column('started_by', sa.String(length=256), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('started_at', sa.BigInteger(), nullable=False),
        sa.Column('heartbeat', sa.BigInteger(), nullable=False),
        sa.Column('ended_at', sa.BigInteger(), nullable=True),
        sa.Column('reason', sa.Text(), server_default='', nullable=False),
        sa.Column('stop_requested', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('options', sa.JSON(), nullable=False),
        sa.Column('stats', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_model_servers')),
    )
    op.create_index(
        op.f('ix_model_servers_name_status'), 'model_servers', ['name', 'status'], unique=False
    )
    op.create_table(
        'prediction_batches',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('server_id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('first_at', sa.BigInteger(), nullable=False),
        sa.Column('last_at', sa.BigInteger(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prediction_batches')),
    )
    op.create_index(
        op.f('ix_prediction_batches_name_last_at'),
        'prediction_batches',
        ['name', 'last_at'],
        unique=False,
    )
    op.create_table(
        'prediction_labels',
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('row', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('label', sa.JSON(), nullable=False),
        sa.Column('at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('request_id', 'row', name=op.f('pk_prediction_labels')),
    )
    op.create_index(
        op.f('ix_prediction_labels_name_at'), 'prediction_labels', ['name', 'at'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_prediction_labels_name_at'), table_name='prediction_labels')
    op.drop_table('prediction_labels')
    op.drop_index(op.f('ix_prediction_batches_name_last_at'), table_name='prediction_batches')
    op.drop_table('prediction_batches')
    op.drop_index(op.f('ix_model_servers_name_status'), table_name='model_servers')
    op.drop_table('model_servers')
