"""calendar identities: stored UIDs for sessions and milestones, when a seminar first stood in
the public feeds, personal feed reminders

Revision ID: 0009_calendar_identities
Revises: 0008_second_factor_sessions
Create Date: 2026-12-07 04:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_calendar_identities'
down_revision = '0008_second_factor_sessions'
branch_labels = None
depends_on = None

UID_DOMAIN = "smartcity-ppp-portal"


def upgrade():
    with op.batch_alter_table('subcommittee_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uid', sa.String(length=255), nullable=True))
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uid', sa.String(length=255), nullable=True))
    with op.batch_alter_table('seminars', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_since', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_alarms', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('calendar_alarms_at', sa.DateTime(timezone=True), nullable=True))

    # Existing events keep the UIDs subscribers already hold (the formulas used until now).
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT s.id, sub.slug, s.number FROM subcommittee_sessions s "
        "JOIN subcommittees sub ON sub.id = s.subcommittee_id")).all()
    for session_id, slug, number in rows:
        conn.execute(sa.text("UPDATE subcommittee_sessions SET uid = :uid WHERE id = :id"),
                     {"uid": f"session-{slug}-{number}@{UID_DOMAIN}", "id": session_id})
    conn.execute(sa.text("UPDATE milestones SET uid = 'milestone-' || CAST(id AS VARCHAR(20)) || '@"
                         + UID_DOMAIN + "'"))
    # Published or cancelled seminars with a date are in the feeds today.
    conn.execute(sa.text("UPDATE seminars SET public_since = updated_at "
                         "WHERE status IN ('published', 'cancelled') AND precision != 'undecided'"))

    with op.batch_alter_table('subcommittee_sessions', schema=None) as batch_op:
        batch_op.alter_column('uid', existing_type=sa.String(length=255), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_subcommittee_sessions_uid'), ['uid'])
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.alter_column('uid', existing_type=sa.String(length=255), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_milestones_uid'), ['uid'])


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('calendar_alarms_at')
        batch_op.drop_column('calendar_alarms')
    with op.batch_alter_table('seminars', schema=None) as batch_op:
        batch_op.drop_column('public_since')
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_milestones_uid'), type_='unique')
        batch_op.drop_column('uid')
    with op.batch_alter_table('subcommittee_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_subcommittee_sessions_uid'), type_='unique')
        batch_op.drop_column('uid')
