"""continuous training: policies, loops, rollouts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 21:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ct_policies',
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('config', sa.JSON(), nullable=False),
        sa.Column('event_cursor', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('next_run_time', sa.BigInteger(), nullable=True),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.Column('updated_by', sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_ct_policies')),
    )
    op.create_table(
        'ct_loops',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('trigger', sa.JSON(), nullable=False),
        sa.Column('pipeline_path', sa.Text(), nullable=False),
        sa.Column('pipeline_run_id', sa.String(length=32), nullable=True),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('dry_run', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.Column('ended_at', sa.BigInteger(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('candidate', sa.Integer(), nullable=True),
        sa.Column('champion', sa.Integer(), nullable=True),
        sa.Column('reason', sa.Text(), server_default='', nullable=False),
        sa.Column('joined', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ct_loops')),
    )
    with op.batch_alter_table('ct_loops', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ct_loops_name_created_at'), ['name', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ct_loops_pipeline_run_id'), ['pipeline_run_id'], unique=False)
    op.create_table(
        'model_rollouts',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('candidate', sa.Integer(), nullable=False),
        sa.Column('champion', sa.Integer(), nullable=True),
        sa.Column('mode', sa.String(length=16), nullable=False),
        sa.Column('share', sa.Float(), nullable=False),
        sa.Column('target', sa.String(length=300), nullable=False),
        sa.Column('criteria', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('started_at', sa.BigInteger(), nullable=False),
        sa.Column('started_by', sa.String(length=256), nullable=False),
        sa.Column('loop_id', sa.String(length=32), nullable=True),
        sa.Column('ended_at', sa.BigInteger(), nullable=True),
        sa.Column('reason', sa.Text(), server_default='', nullable=False),
        sa.Column('stats', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_model_rollouts')),
    )
    with op.batch_alter_table('model_rollouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_rollouts_name_state'), ['name', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('model_rollouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_rollouts_name_state'))
    op.drop_table('model_rollouts')
    with op.batch_alter_table('ct_loops', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ct_loops_pipeline_run_id'))
        batch_op.drop_index(batch_op.f('ix_ct_loops_name_created_at'))
    op.drop_table('ct_loops')
    op.drop_table('ct_policies')
