"""live questions: approve-before-shown mode, the 回答中 mark

Revision ID: 0011_live_questions
Revises: 0010_seminar_editor
Create Date: 2026-12-07 04:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_live_questions'
down_revision = '0010_seminar_editor'
branch_labels = None
depends_on = None


def upgrade():
    # Existing rows get false: seminars so far show questions at once, questions so far are shown.
    with op.batch_alter_table('seminars', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qa_approval', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('answering_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_column('answering_at')
        batch_op.drop_column('approved_at')
        batch_op.drop_column('pending')
    with op.batch_alter_table('seminars', schema=None) as batch_op:
        batch_op.drop_column('qa_approval')
