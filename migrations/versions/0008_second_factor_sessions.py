"""second factor per session, single-use TOTP codes, enrolment links; the dead login_throttles goes

Revision ID: 0008_second_factor_sessions
Revises: 0007
Create Date: 2026-12-07 04:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_second_factor_sessions'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))

    # Sessions started before this revision passed no second factor here: a secretariat session
    # where the factor is required logs in again (or steps up at /login/2fa).
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('second_factor_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('enrolment_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_enrolment_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_enrolment_tokens_token_hash'))
    )
    with op.batch_alter_table('enrolment_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolment_tokens_user_id'), ['user_id'], unique=False)

    # Failed log-ins are counted in the shared counters (RATELIMIT_STORAGE_URI) since 0007's
    # release; nothing reads or writes this table.
    op.drop_table('login_throttles')


def downgrade():
    op.create_table('login_throttles',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_failure_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_login_throttles'))
    )
    with op.batch_alter_table('enrolment_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolment_tokens_user_id'))
    op.drop_table('enrolment_tokens')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('second_factor_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
