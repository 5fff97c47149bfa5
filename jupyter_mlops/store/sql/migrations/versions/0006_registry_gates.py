"""registry: approvals, gate configuration and reports, model card fields, deleted versions,
audit chain head

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 12:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registered_models', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gates', sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column('intended_use', sa.Text(), server_default='', nullable=False)
        )
        batch_op.add_column(
            sa.Column('limitations', sa.Text(), server_default='', nullable=False)
        )
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted_at', sa.BigInteger(), nullable=True))
    op.create_table(
        'registry_head',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_head')),
    )
    # A store made before this revision: its head is its last entry.
    op.execute(
        "INSERT INTO registry_head (id, seq, hash) SELECT 1, seq, hash FROM registry_audit "
        "WHERE seq = (SELECT MAX(seq) FROM registry_audit)"
    )
    op.create_table(
        'model_approvals',
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('actor', sa.String(length=256), nullable=False),
        sa.Column('at', sa.BigInteger(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ['name', 'version'], ['model_versions.name', 'model_versions.version'],
            name=op.f('fk_model_approvals_name_model_versions'),
        ),
        sa.PrimaryKeyConstraint('name', 'version', 'actor', name=op.f('pk_model_approvals')),
    )
    op.create_table(
        'gate_reports',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('model_sha256', sa.String(length=64), nullable=False),
        sa.Column('config_sha256', sa.String(length=64), nullable=False),
        sa.Column('passed', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('created_by', sa.String(length=256), nullable=False),
        sa.Column('report', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ['name', 'version'], ['model_versions.name', 'model_versions.version'],
            name=op.f('fk_gate_reports_name_model_versions'),
        ),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_gate_reports')),
    )
    with op.batch_alter_table('gate_reports', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_gate_reports_name_version_created_at'),
            ['name', 'version', 'created_at'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('gate_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gate_reports_name_version_created_at'))
    op.drop_table('gate_reports')
    op.drop_table('model_approvals')
    op.drop_table('registry_head')
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
    with op.batch_alter_table('registered_models', schema=None) as batch_op:
        batch_op.drop_column('limitations')
        batch_op.drop_column('intended_use')
        batch_op.drop_column('gates')
