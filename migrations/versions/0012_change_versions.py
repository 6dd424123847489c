"""change versions: a counter per table, moved by triggers on every write (HTTP validators)

Revision ID: 0012_change_versions
Revises: 0011_live_questions
Create Date: 2026-12-07 04:20:00

"""
from alembic import op
import sqlalchemy as sa

from portal.core.versions import install


# revision identifiers, used by Alembic.
revision = '0012_change_versions'
down_revision = '0011_live_questions'
branch_labels = None
depends_on = None

# Frozen here: a table tracked later gets its triggers from a later migration (install(conn, [...])).
TABLES = (
    "organizations", "users", "seminar_series", "seminars", "program_items", "presenters", "registrations",
    "materials", "questions", "question_votes", "subcommittees", "subcommittee_members",
    "subcommittee_activities", "subcommittee_sessions", "milestones", "subcommittee_contacts",
    "calendar_tombstones",
)


def upgrade():
    op.create_table('change_versions',
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_change_versions'))
    )
    install(op.get_bind(), TABLES)


def downgrade():
    bind = op.get_bind()
    for table in TABLES:
        if bind.dialect.name == "postgresql":
            for name in (f"portal_note_{table}", f"portal_note_update_{table}", f"portal_bump_{table}"):
                op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        else:
            for operation in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"DROP TRIGGER IF EXISTS portal_bump_{table}_{operation}")
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS portal_bump_versions()")
        op.execute("DROP FUNCTION IF EXISTS portal_note_change()")
    op.drop_table('change_versions')
