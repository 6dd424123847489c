"""announcements, their unsubscribes; subcommittee steps

Revision ID: 0013_announcements
Revises: 0012_change_versions

"""
from alembic import op
import sqlalchemy as sa


revision = '0013_announcements'
down_revision = '0012_change_versions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('announcement_opt_outs',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_announcement_opt_outs_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_announcement_opt_outs'))
    )
    op.create_table('announcements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seminar_id', sa.Integer(), nullable=False),
    sa.Column('segment', sa.Enum('all_members', 'subcommittee', 'registrants', 'waitlist', name='segment', native_enum=False, length=20), nullable=False),
    sa.Column('subcommittee_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('scheduled', 'sent', name='announcementstate', native_enum=False, length=20), nullable=False),
    sa.Column('send_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recipients', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_announcements_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['seminar_id'], ['seminars.id'], name=op.f('fk_announcements_seminar_id_seminars'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subcommittee_id'], ['subcommittees.id'], name=op.f('fk_announcements_subcommittee_id_subcommittees'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_announcements'))
    )
    with op.batch_alter_table('announcements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_announcements_seminar_id'), ['seminar_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_announcements_state'), ['state'], unique=False)

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('headers', sa.JSON(), server_default='{}', nullable=False))

    with op.batch_alter_table('subcommittees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('steps', sa.JSON(), server_default='[]', nullable=False))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('headers')

    with op.batch_alter_table('announcements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_announcements_state'))
        batch_op.drop_index(batch_op.f('ix_announcements_seminar_id'))

    op.drop_table('announcements')
    op.drop_table('announcement_opt_outs')
    with op.batch_alter_table('subcommittees', schema=None) as batch_op:
        batch_op.drop_column('steps')
