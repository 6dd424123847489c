"""announcements, their unsubscribes; subcommittee steps

Revision ID: 0013_announcements
Revises: 0007

"""
from alembic import op
import sqlalchemy as sa


revision = '0013_announcements'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subcommittees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('steps', sa.JSON(), server_default='[]', nullable=False))


def downgrade():
    with op.batch_alter_table('subcommittees', schema=None) as batch_op:
        batch_op.drop_column('steps')
