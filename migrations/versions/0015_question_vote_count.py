"""question vote count: each question's up-votes, kept by a database trigger

Revision ID: 0015_question_vote_count
Revises: 0014_attendance

"""
from alembic import op
import sqlalchemy as sa


revision = '0015_question_vote_count'
down_revision = '0014_attendance'
branch_labels = None
depends_on = None

# Frozen here (portal.qa.models.VOTE_COUNTER is the models' copy for tables made by create_all).
POSTGRESQL = """
CREATE OR REPLACE FUNCTION portal_count_votes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        UPDATE questions SET vote_count = vote_count + 1 WHERE id = NEW.question_id;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        UPDATE questions SET vote_count = vote_count - 1 WHERE id = OLD.question_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER portal_count_votes AFTER INSERT OR DELETE OR UPDATE OF question_id ON question_votes
    FOR EACH ROW EXECUTE FUNCTION portal_count_votes();
"""
SQLITE = (
    """CREATE TRIGGER portal_count_votes_insert AFTER INSERT ON question_votes BEGIN
    UPDATE questions SET vote_count = vote_count + 1 WHERE id = NEW.question_id;
END""",
    """CREATE TRIGGER portal_count_votes_delete AFTER DELETE ON question_votes BEGIN
    UPDATE questions SET vote_count = vote_count - 1 WHERE id = OLD.question_id;
END""",
    """CREATE TRIGGER portal_count_votes_update AFTER UPDATE OF question_id ON question_votes BEGIN
    UPDATE questions SET vote_count = vote_count - 1 WHERE id = OLD.question_id;
    UPDATE questions SET vote_count = vote_count + 1 WHERE id = NEW.question_id;
END""",
)


def upgrade():
    # Plain ADD COLUMN (no batch copy): on SQLite a copied table would lose its change-version triggers.
    op.add_column('questions', sa.Column('vote_count', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE questions SET vote_count = "
               "(SELECT count(*) FROM question_votes WHERE question_votes.question_id = questions.id)")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(POSTGRESQL)
    elif bind.dialect.name == "sqlite":
        for statement in SQLITE:
            bind.exec_driver_sql(statement)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS portal_count_votes ON question_votes")
        op.execute("DROP FUNCTION IF EXISTS portal_count_votes()")
    else:
        for operation in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS portal_count_votes_{operation}")
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_column('vote_count')
