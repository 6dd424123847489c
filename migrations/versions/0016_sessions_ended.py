"""sessions ended: a change counter moved when a log-in's record is deleted

Revision ID: 0016_sessions_ended
Revises: 0015_question_vote_count

"""
from alembic import op


revision = '0016_sessions_ended'
down_revision = '0015_question_vote_count'
branch_labels = None
depends_on = None

# Frozen here (portal.core.versions.EVENTS and install_events are the models' copy for tables
# made by create_all). portal_bump_versions comes from 0012_change_versions.
POSTGRESQL = """
CREATE OR REPLACE FUNCTION portal_note_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE noted text := coalesce(current_setting('portal.changed', true), '');
BEGIN
    IF position(' ' || TG_ARGV[0] || ' ' IN ' ' || noted) = 0 THEN
        PERFORM set_config('portal.changed', noted || TG_ARGV[0] || ' ', true);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER portal_note_sessions_ended AFTER DELETE ON user_sessions
    FOR EACH ROW EXECUTE FUNCTION portal_note_event('sessions_ended');
CREATE CONSTRAINT TRIGGER portal_bump_sessions_ended AFTER DELETE ON user_sessions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION portal_bump_versions();
"""
SQLITE = """CREATE TRIGGER portal_bump_sessions_ended AFTER DELETE ON user_sessions BEGIN
    UPDATE change_versions SET version = version + 1, changed_at = strftime('%Y-%m-%d %H:%M:%f000', 'now')
    WHERE scope = 'sessions_ended';
END"""


def upgrade():
    op.execute("INSERT INTO change_versions (scope, version) VALUES ('sessions_ended', 0)")
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(POSTGRESQL)
    elif dialect == "sqlite":
        op.execute(SQLITE)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS portal_bump_sessions_ended ON user_sessions")
        op.execute("DROP TRIGGER IF EXISTS portal_note_sessions_ended ON user_sessions")
        op.execute("DROP FUNCTION IF EXISTS portal_note_event()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS portal_bump_sessions_ended")
    op.execute("DELETE FROM change_versions WHERE scope = 'sessions_ended'")
