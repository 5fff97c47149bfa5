"""model registry: registered models, versions, aliases and the append-only audit

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# The database refuses UPDATE and DELETE on registry_audit. A frozen copy of
# store/sql/registry.py's AUDIT_GUARDS at this revision (a migration never changes).
_GUARDS = {
    'sqlite': (
        "CREATE TRIGGER registry_audit_no_update BEFORE UPDATE ON registry_audit "
        "BEGIN SELECT RAISE(ABORT, 'registry_audit is append-only: UPDATE refused'); END",
        "CREATE TRIGGER registry_audit_no_delete BEFORE DELETE ON registry_audit "
        "BEGIN SELECT RAISE(ABORT, 'registry_audit is append-only: DELETE refused'); END",
    ),
    'postgresql': (
        "CREATE FUNCTION registry_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION USING MESSAGE = "
        "'registry_audit is append-only: ' || TG_OP || ' refused'; END $$",
        "CREATE TRIGGER registry_audit_no_change BEFORE UPDATE OR DELETE ON registry_audit "
        "FOR EACH ROW EXECUTE FUNCTION registry_audit_refuse()",
        "CREATE TRIGGER registry_audit_no_truncate BEFORE TRUNCATE ON registry_audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION registry_audit_refuse()",
    ),
}
_DROP_GUARDS = {
    'sqlite': (
        "DROP TRIGGER IF EXISTS registry_audit_no_update",
        "DROP TRIGGER IF EXISTS registry_audit_no_delete",
    ),
    'postgresql': ("DROP FUNCTION IF EXISTS registry_audit_refuse() CASCADE",),
}


def upgrade() -> None:
    op.create_table(
        'registered_models',
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('description', sa.Text(), server_default='', nullable=False),
        sa.Column('tags', sa.JSON(), nullable=True),
        sa.Column('required_approvals', sa.Integer(), server_default='0', nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_registered_models')),
    )
    op.create_table(
        'model_versions',
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('logged_model_id', sa.String(length=32), nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('stage', sa.String(length=16), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('description', sa.Text(), server_default='', nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('created_by', sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ['logged_model_id'], ['logged_models.id'],
            name=op.f('fk_model_versions_logged_model_id_logged_models'),
        ),
        sa.ForeignKeyConstraint(
            ['name'], ['registered_models.name'],
            name=op.f('fk_model_versions_name_registered_models'),
        ),
        sa.PrimaryKeyConstraint('name', 'version', name=op.f('pk_model_versions')),
    )
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_model_versions_logged_model_id'), ['logged_model_id'], unique=False
        )
        batch_op.create_index(
            batch_op.f('ix_model_versions_name_stage'), ['name', 'stage'], unique=False
        )
    op.create_table(
        'model_aliases',
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('alias', sa.String(length=256), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.Column('updated_by', sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ['name', 'version'], ['model_versions.name', 'model_versions.version'],
            name=op.f('fk_model_aliases_name_model_versions'),
        ),
        sa.PrimaryKeyConstraint('name', 'alias', name=op.f('pk_model_aliases')),
    )
    op.create_table(
        'registry_audit',
        sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('at', sa.BigInteger(), nullable=False),
        sa.Column('actor', sa.String(length=256), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('alias', sa.String(length=256), nullable=True),
        sa.Column('from_value', sa.Text(), nullable=True),
        sa.Column('to_value', sa.Text(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('report_sha256', sa.String(length=64), nullable=True),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_registry_audit')),
    )
    with op.batch_alter_table('registry_audit', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_registry_audit_name_seq'), ['name', 'seq'], unique=False
        )
    for statement in _GUARDS.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def downgrade() -> None:
    for statement in _DROP_GUARDS.get(op.get_bind().dialect.name, ()):
        op.execute(statement)
    op.drop_table('registry_audit')
    op.drop_table('model_aliases')
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_versions_name_stage'))
        batch_op.drop_index(batch_op.f('ix_model_versions_logged_model_id'))
    op.drop_table('model_versions')
    op.drop_table('registered_models')
