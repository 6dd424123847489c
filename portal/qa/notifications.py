"""Q&A mail, all through the one outbox: questions routed to the secretariat mailbox, the
notice to an asker whose question was hidden, and the secretariat's answer.

Routing is exactly once by construction: the caller holds the seminar's lock
(``lock_seminar``), the questions routed are those not yet stamped ``routed_at``, and in the same
transaction one message goes to the outbox and each question is stamped with it. The outbox
refuses a second message with the same dedupe key (kind, seminar, first question). A second
close finds nothing left to route; a crash rolls back both; a mail outage only delays the outbox.
"""

from __future__ import annotations

from flask import current_app, render_template

from portal.audit.services import record
from portal.core.db import db, utcnow
from portal.mail.outbox import enqueue
from portal.qa.models import Question
from portal.qa.queries import unrouted
from portal.seminars.models import Seminar
from portal.seminars.notifications import seminar_title
from portal.web.urls import external_url_for


def mailbox(seminar: Seminar) -> str:
    return seminar.mailbox or current_app.config["SECRETARIAT_EMAIL"]


def route_unanswered(seminar: Seminar) -> int:
    """One digest of every question not answered live, not hidden and not yet routed; the caller
    holds the seminar's lock. Returns how many questions it holds (0: no digest)."""
    pending = unrouted(seminar)
    if pending:
        _route(pending, seminar, kind="qa.digest",
               subject=f"【Q&A未回答の質問 {len(pending)}件】{seminar_title(seminar)}")
    return len(pending)


def route_followup(question: Question, seminar: Seminar) -> None:
    """A question sent after Q&A closed goes to the mailbox at once, as its own message."""
    _route([question], seminar, kind="qa.followup", subject=f"【Q&A追加質問】{seminar_title(seminar)}")


def _route(questions: list[Question], seminar: Seminar, *, kind: str, subject: str) -> None:
    now = utcnow()
    message = enqueue(
        mailbox(seminar), subject,
        render_template("mail/question_digest.txt", seminar=seminar, questions=questions,
                        followup=kind == "qa.followup",
                        url=external_url_for("qa.questions", seminar_id=seminar.id)),
        kind=kind,
        # The database refuses a second message for the same first question.
        dedupe_key=f"{kind}:{seminar.id}:{questions[0].id}",
    )
    db.session.flush()
    for question in questions:
        question.routed_at = now
        question.routed_message_id = message.id
    record("qa.routed", subject=f"seminar:{seminar.id}",
           details={"questions": [q.id for q in questions], "outbox": message.id})


def tell_hidden(question: Question) -> None:
    """The asker learns that the secretariat hid the question."""
    enqueue(
        question.author.email,
        f"【官民連携プラットフォーム】ご質問の非表示について：{seminar_title(question.seminar)}",
        render_template("mail/question_hidden.txt", question=question),
        kind="qa.hidden",
    )


def send_answer(question: Question) -> None:
    """The asker gets the secretariat's answer, with a link to the seminar."""
    enqueue(
        question.author.email,
        f"【官民連携プラットフォーム】ご質問への回答：{seminar_title(question.seminar)}",
        render_template("mail/question_answer.txt", question=question,
                        url=external_url_for("seminars.detail", seminar_id=question.seminar_id)),
        kind="qa.answer",
    )
