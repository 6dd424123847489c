"""The outbox: mail is written with the change that causes it and delivered later, exactly once.

Real SMTP servers (aiosmtpd on 127.0.0.1), real databases (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set), no mocks. Apps that talk SMTP are built after their server has a port,
because Flask-Mail reads its settings when the app is created.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from conftest import SMTPServer, asks_first, free_port
from markupsafe import escape
from sqlalchemy import func, select

from portal.core.db import db, utcnow
from portal.mail import delivery
from portal.mail.models import OutboxMessage, OutboxStatus
from portal.mail.outbox import enqueue

SUBJECT = "【官民連携プラットフォーム】参加登録のお知らせ"
BODY = (
    "本文 日本語\n"
    "テスト 太郎 様\n"
    "\n"
    "第1回 官民連携プラットフォーム オンラインセミナー（2021年8月3日（火） 15:30～）への\n"
    "参加登録を受け付けました。①②③ ～ ※ご不明な点は事務局までお問い合わせください。\n"
)
RECIPIENT = "taro@example.org"


# ----------------------------------------------------------------------------- helpers


def _enqueue(app, count: int = 1, **kwargs) -> list[int]:
    """Commit ``count`` messages and return their ids. One message goes to RECIPIENT with
    SUBJECT; several go to userNN@example.org with subjects "SUBJECT NN" (NN from 01)."""
    with app.app_context():
        rows = [
            enqueue(
                RECIPIENT if count == 1 else f"user{i:02d}@example.org",
                SUBJECT if count == 1 else f"{SUBJECT} {i:02d}",
                BODY,
                kind="test.notice",
                **kwargs,
            )
            for i in range(1, count + 1)
        ]
        db.session.commit()
        return [row.id for row in rows]


def _deliver(app, **kwargs) -> delivery.DeliveryReport:
    with app.app_context():
        return delivery.deliver_batch(**kwargs)


def _row(app, message_id: int) -> OutboxMessage:
    with app.app_context():
        row = db.session.get(OutboxMessage, message_id)
        db.session.expunge(row)
        return row


def _text(msg: EmailMessage) -> str:
    """The decoded plain-text body, with SMTP's CRLF line ends turned back into LF."""
    return msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def _subjects(messages: list[EmailMessage]) -> Counter:
    return Counter(str(m["Subject"]) for m in messages)


# ----------------------------------------------------------------------------- one transaction


def test_enqueue_is_part_of_the_callers_transaction_and_rolls_back_with_it(app, outbox):
    from portal.accounts.models import Membership, OrganizationKind, User
    from portal.accounts.operations import sign_up

    with app.test_request_context("/signup", method="POST"):  # as the sign-up view does
        sign_up(
            email="newcomer@example.org", name="新規 花子", password="a-long-password-123",
            organization_name="テスト町", organization_kind=OrganizationKind.MUNICIPALITY,
            membership=Membership.MEMBER,
        )
        db.session.flush()
        # Written in this transaction (the change and its two mails)…
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
        # …but nobody else sees them before the commit.
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
            db.session.rollback()
        db.session.rollback()

    assert outbox() == []
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "newcomer@example.org")) is None

    # The same change committed brings its mail along.
    with app.test_request_context("/signup", method="POST"):  # as the sign-up view does
        sign_up(
            email="newcomer@example.org", name="新規 花子", password="a-long-password-123",
            organization_name="テスト町", organization_kind=OrganizationKind.MUNICIPALITY,
            membership=Membership.MEMBER,
        )
        db.session.commit()
    rows = outbox()
    assert sorted(r.kind for r in rows) == ["account.signup_received", "account.signup_secretariat"]
    assert all(r.status == OutboxStatus.PENDING and r.attempts == 0 for r in rows)


def test_plain_enqueue_then_rollback_leaves_no_message(app, outbox):
    with app.app_context():
        enqueue(RECIPIENT, SUBJECT, BODY, kind="test.notice")
        db.session.flush()  # the row is written, inside the transaction
        db.session.rollback()
    assert outbox() == []


# ----------------------------------------------------------------------------- SMTP delivery


def test_japanese_message_arrives_once_and_decodes_exactly(make_app, smtp_server, outbox):
    app = make_app(**smtp_server.config())
    [message_id] = _enqueue(app)

    result = app.test_cli_runner().invoke(args=["mail", "deliver", "--once"])
    assert result.exit_code == 0, result.output

    assert len(smtp_server.messages) == 1
    msg = smtp_server.messages[0]
    assert msg["Subject"] == SUBJECT
    assert _text(msg) == BODY
    assert msg["X-Envelope-To"] == RECIPIENT
    assert msg["To"] == RECIPIENT

    [row] = outbox()
    assert row.id == message_id
    assert row.status == OutboxStatus.SENT
    assert row.attempts == 1
    assert row.last_error is None
    assert row.sent_at is not None
    assert row.delivered_to == "smtp"

    again = app.test_cli_runner().invoke(args=["mail", "deliver", "--once"])
    assert again.exit_code == 0, again.output
    assert len(smtp_server.messages) == 1
    [row] = outbox()
    assert row.status == OutboxStatus.SENT and row.attempts == 1


def test_each_message_carries_one_stable_message_id(make_app, smtp_server):
    """RFC 5322 allows one Message-ID; the outbox's own id makes a resend recognizable."""
    app = make_app(**smtp_server.config())
    [message_id] = _enqueue(app)
    _deliver(app)

    [msg] = smtp_server.messages
    assert msg.get_all("Message-ID") == [f"<outbox-{message_id}@example.org>"]


def test_attachment_arrives_intact(make_app, smtp_server):
    app = make_app(**smtp_server.config())
    ics = "BEGIN:VCALENDAR\r\nSUMMARY:第1回 オンラインセミナー\r\nEND:VCALENDAR\r\n"
    _enqueue(app, attachments=[{"filename": "seminar.ics", "content_type": "text/calendar", "data": ics}])
    _deliver(app)

    [msg] = smtp_server.messages
    assert _text(msg) == BODY
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == "seminar.ics"
    assert part.get_content_type() == "text/calendar"
    assert part.get_payload(decode=True).decode("utf-8") == ics


def test_one_pass_sends_several_messages_over_one_connection(make_app, smtp_server, outbox):
    app = make_app(**smtp_server.config())
    ids = _enqueue(app, count=5)
    smtp_server.greetings = 0

    report = _deliver(app)

    assert (report.claimed, report.sent, report.failed) == (5, 5, 0)
    assert smtp_server.greetings == 1  # one EHLO: one SMTP session
    assert len(set(smtp_server.peers)) == 1  # every message came over the same socket
    assert _subjects(smtp_server.messages) == Counter({f"{SUBJECT} {i:02d}": 1 for i in range(1, 6)})
    assert [(r.id, r.status, r.attempts) for r in outbox()] == [(i, OutboxStatus.SENT, 1) for i in ids]


def test_a_refused_recipient_fails_alone_and_the_rest_of_the_batch_is_sent(make_app, outbox):
    server = SMTPServer("127.0.0.1", free_port(), refuse={"user02@example.org"})
    server.start()
    try:
        app = make_app(**server.config())
        ids = _enqueue(app, count=3)
        report = _deliver(app)
    finally:
        server.stop()

    assert (report.claimed, report.sent, report.failed) == (3, 2, 1)
    assert server.greetings == 1
    assert _subjects(server.messages) == Counter({f"{SUBJECT} 01": 1, f"{SUBJECT} 03": 1})
    rows = {r.id: r for r in outbox()}
    assert rows[ids[0]].status == OutboxStatus.SENT
    assert rows[ids[2]].status == OutboxStatus.SENT
    refused = rows[ids[1]]
    assert refused.status == OutboxStatus.FAILED  # refused for good (5xx): failed, with the reason
    assert refused.attempts == 1
    assert "550" in refused.last_error


def test_once_is_one_pass_over_all_due_messages_even_beyond_one_batch(make_app, smtp_server, outbox):
    """`mail deliver --once` is "one pass over the due messages": a backlog larger than
    MAIL_BATCH_SIZE is not left half-sent."""
    app = make_app(**smtp_server.config(), MAIL_BATCH_SIZE=2)
    _enqueue(app, count=5)

    result = app.test_cli_runner().invoke(args=["mail", "deliver", "--once"])

    assert result.exit_code == 0, result.output
    assert _subjects(smtp_server.messages) == Counter({f"{SUBJECT} {i:02d}": 1 for i in range(1, 6)})
    assert {r.status for r in outbox()} == {OutboxStatus.SENT}


# ----------------------------------------------------------------------------- SMTP down


def test_smtp_down_keeps_every_message_pending_and_a_later_run_delivers_each_once(
    make_app, smtp_server, outbox
):
    app = make_app(**smtp_server.config())
    smtp_server.stop()  # nothing listens on the configured port now
    ids = _enqueue(app, count=3)

    before = utcnow()
    result = app.test_cli_runner().invoke(args=["mail", "deliver", "--once"])
    after = utcnow()

    assert result.exit_code == 0, result.output
    rows = outbox()
    assert [r.id for r in rows] == ids
    for row in rows:
        assert row.status == OutboxStatus.PENDING
        assert row.attempts == 1
        assert row.last_error
        assert "refused" in row.last_error.lower()
        assert row.sent_at is None
        assert before <= row.next_attempt_at <= after + timedelta(seconds=30)

    # Still down and not yet due: a run right away leaves them alone (back-off).
    result = app.test_cli_runner().invoke(args=["mail", "deliver", "--once"])
    assert result.exit_code == 0, result.output
    assert [(r.status, r.attempts) for r in outbox()] == [(OutboxStatus.PENDING, 1)] * 3

    # The server is back; a run after the retry time delivers every message, once.
    smtp_server.start()
    due = max(r.next_attempt_at for r in rows) + timedelta(seconds=1)
    report = _deliver(app, now=due)
    assert (report.claimed, report.sent, report.failed) == (3, 3, 0)
    assert _subjects(smtp_server.messages) == Counter({f"{SUBJECT} {i:02d}": 1 for i in range(1, 4)})
    for row in outbox():
        assert row.status == OutboxStatus.SENT
        assert row.attempts == 2
        assert row.last_error is None

    report = _deliver(app, now=due + timedelta(hours=1))
    assert report.claimed == 0
    assert len(smtp_server.messages) == 3


def test_a_message_refused_for_good_is_shown_failed_and_the_secretariat_retries_it(
    make_app, smtp_server, outbox, create_user, auth, client
):
    smtp_server.refuse.add(RECIPIENT)  # 550 for its one recipient: refused for good
    app = make_app(**smtp_server.config())
    [message_id] = _enqueue(app)

    first = _deliver(app)
    assert (first.claimed, first.failed, first.refused) == (1, 1, 1)
    row = _row(app, message_id)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)
    assert "550" in row.last_error
    # A failed message is not retried on its own.
    assert _deliver(app, now=utcnow() + timedelta(days=1)).claimed == 0

    secretariat = create_user(role="secretariat")
    assert auth.login(secretariat).status_code == 302

    html = client.get("/secretariat/outbox").get_data(as_text=True)
    match = re.search(rf'<tr class="status-failed" data-message-id="{message_id}">(.*?)</tr>', html, re.S)
    assert match, "the failed message is not listed as failed"
    listed = match.group(1)
    assert str(escape(SUBJECT)) in listed
    assert str(escape(row.last_error[:120])) in listed
    assert f'data-message-id="{message_id}"' in client.get("/secretariat/outbox?status=failed").get_data(as_text=True)

    detail = client.get(f"/secretariat/outbox/{message_id}").get_data(as_text=True)
    assert str(escape(row.last_error)) in detail
    assert f"/secretariat/outbox/{message_id}/retry" in detail

    # Without the CSRF token nothing changes.
    assert client.post(f"/secretariat/outbox/{message_id}/retry").status_code == 400
    assert _row(app, message_id).status == OutboxStatus.FAILED

    # The button only asks first (it mails the recipients again), saying how many.
    path = f"/secretariat/outbox/{message_id}/retry"
    asks_first(auth.post(path), path, mails=len(row.recipients))
    assert _row(app, message_id).status == OutboxStatus.FAILED

    response = auth.post(f"/secretariat/outbox/{message_id}/retry", {"confirmed": "1"})
    assert response.status_code == 302
    row = _row(app, message_id)
    assert row.status == OutboxStatus.PENDING
    assert row.next_attempt_at <= utcnow()

    smtp_server.refuse.clear()
    report = _deliver(app)
    assert (report.claimed, report.sent) == (1, 1)
    assert [str(m["Subject"]) for m in smtp_server.messages] == [SUBJECT]
    assert _text(smtp_server.messages[0]) == BODY
    assert _row(app, message_id).status == OutboxStatus.SENT
    assert _deliver(app).claimed == 0
    assert len(smtp_server.messages) == 1


def test_outbox_retry_is_secretariat_only(app, create_user, auth, client):
    [message_id] = _enqueue(app)
    with app.app_context():
        db.session.get(OutboxMessage, message_id).status = OutboxStatus.FAILED
        db.session.commit()

    assert client.get("/secretariat/outbox").status_code == 302
    assert auth.login(create_user(role="member")).status_code == 302
    assert client.get("/secretariat/outbox").status_code == 403
    assert auth.post(f"/secretariat/outbox/{message_id}/retry").status_code == 403
    assert _row(app, message_id).status == OutboxStatus.FAILED


# ----------------------------------------------------------------------------- without SMTP


def test_without_smtp_settings_mail_is_written_as_eml_files(app, runner, outbox, tmp_path):
    assert not app.config.get("MAIL_SERVER")
    [message_id] = _enqueue(app)

    result = runner.invoke(args=["mail", "deliver", "--once"])
    assert result.exit_code == 0, result.output

    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["Subject"] == SUBJECT
    assert _text(msg) == BODY
    assert msg["To"] == RECIPIENT

    [row] = outbox()
    assert row.id == message_id
    assert row.status == OutboxStatus.SENT
    assert row.attempts == 1
    assert Path(row.delivered_to) == files[0]

    again = runner.invoke(args=["mail", "deliver", "--once"])
    assert again.exit_code == 0, again.output
    assert sorted((tmp_path / "mail").glob("*.eml")) == files


# ----------------------------------------------------------------------------- workers


def test_two_concurrent_workers_never_send_the_same_message(make_app, smtp_server, outbox):
    """Two workers claim in lockstep rounds (both start each pass at the same moment), so
    every claim races the other worker's; 40 messages, 5 per batch."""
    app = make_app(**smtp_server.config(), MAIL_BATCH_SIZE=5)
    ids = _enqueue(app, count=40)
    rounds = 12  # enough even if only one worker wins each round (8 batches)
    in_step = threading.Barrier(2)
    reports: dict[str, list[delivery.DeliveryReport]] = {"worker-a": [], "worker-b": []}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with app.app_context():
                for _ in range(rounds):
                    in_step.wait(timeout=20)
                    reports[name].append(delivery.deliver_batch(worker=name))
        except BaseException as exc:
            errors.append(exc)
            in_step.abort()

    threads = [threading.Thread(target=work, args=(name,)) for name in reports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    received = _subjects(smtp_server.messages)
    assert received == Counter({f"{SUBJECT} {i:02d}": 1 for i in range(1, 41)})
    all_reports = reports["worker-a"] + reports["worker-b"]
    assert sum(r.claimed for r in all_reports) == 40
    assert sum(r.sent for r in all_reports) == 40
    assert max(r.claimed for r in all_reports) <= 5
    rows = outbox()
    assert [r.id for r in rows] == ids
    assert all(r.status == OutboxStatus.SENT and r.attempts == 1 for r in rows)


def test_a_stale_claim_of_a_crashed_worker_is_picked_up_again(make_app, smtp_server, outbox):
    app = make_app(**smtp_server.config())
    stale_id, busy_id = _enqueue(app, count=2)
    with app.app_context():
        stale = db.session.get(OutboxMessage, stale_id)
        stale.status, stale.claimed_by = OutboxStatus.SENDING, "crashed-host:4242:0123456789ab"
        stale.claimed_at = utcnow() - timedelta(minutes=11)
        busy = db.session.get(OutboxMessage, busy_id)
        busy.status, busy.claimed_by = OutboxStatus.SENDING, "busy-host:4343:0123456789ab"
        busy.claimed_at = utcnow() - timedelta(seconds=10)
        db.session.commit()

    report = _deliver(app)

    assert (report.claimed, report.sent) == (1, 1)
    assert _subjects(smtp_server.messages) == Counter({f"{SUBJECT} 01": 1})
    rows = {r.id: r for r in outbox()}
    assert rows[stale_id].status == OutboxStatus.SENT
    assert rows[stale_id].attempts == 1
    # A recent claim belongs to a live worker: left alone.
    assert rows[busy_id].status == OutboxStatus.SENDING
    assert rows[busy_id].claimed_by == "busy-host:4343:0123456789ab"

    assert _deliver(app).claimed == 0
    assert len(smtp_server.messages) == 1
