"""seminar editor: a presenter's honorific (様 unless chosen otherwise)

Revision ID: 0010_seminar_editor
Revises: 0009_calendar_identities
Create Date: 2026-12-07 04:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_seminar_editor'
down_revision = '0009_calendar_identities'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('presenters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('honorific', sa.String(length=20), server_default='様', nullable=False))


def downgrade():
    with op.batch_alter_table('presenters', schema=None) as batch_op:
        batch_op.drop_column('honorific')
