"""attendance: who attended a seminar, and when attendance was recorded

Revision ID: 0014_attendance
Revises: 0013_announcements

"""
from alembic import op
import sqlalchemy as sa


revision = '0014_attendance'
down_revision = '0013_announcements'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch copy): on SQLite a copied table would lose its change-version triggers.
    op.add_column('registrations', sa.Column('attended_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('seminars', sa.Column('attendance_recorded_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('seminars', schema=None) as batch_op:
        batch_op.drop_column('attendance_recorded_at')
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_column('attended_at')
