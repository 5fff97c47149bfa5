"""monitoring: models' reference profiles, monitoring configurations, alert states

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 18:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'model_references',
        sa.Column('logged_model_id', sa.String(length=32), nullable=False),
        sa.Column('rows', sa.BigInteger(), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('created_by', sa.String(length=256), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('logged_model_id', name=op.f('pk_model_references')),
    )
    op.create_table(
        'monitor_configs',
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('config', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.Column('updated_by', sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_monitor_configs')),
    )
    op.create_table(
        'monitor_alerts',
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('rule', sa.String(length=256), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('since', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('window_end', sa.BigInteger(), nullable=True),
        sa.Column('levels', sa.JSON(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('delivery', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('name', 'rule', name=op.f('pk_monitor_alerts')),
    )


def downgrade() -> None:
    op.drop_table('monitor_alerts')
    op.drop_table('monitor_configs')
    op.drop_table('model_references')
