"""Delivery: the outbox is sent one claimed message at a time, within a deadline, until it is sent.

``deliver_batch`` (one pass of ``flask mail deliver``) repeats: claim the next due message, send
it over the pass's one SMTP connection, record the outcome and commit.

- Nothing hangs. The connection has a timeout on connect and on every read and write
  (``MAIL_TIMEOUT_SECONDS``), and each message's whole conversation, connecting included, has
  that same deadline: a watchdog shuts the socket when it passes.
- A claim fits the work: it covers one message and lasts ``lease()``, the deadline and a margin
  (45 s by default). A slow server never outlives a claim, so no second worker sends the message
  again, and the message of a killed worker is due again when its lease has run out.
- Nothing gives up by itself. A failed attempt reschedules the message (15 s, 30 s, 60 s … up to
  ``MAIL_RETRY_MAX_SECONDS``, an hour), then again at that interval for as long as it is not
  sent. Only a permanent refusal (5xx) of its recipients makes it ``failed``; the secretariat sees
  the reason and can send it again (``retry_now``).
- When the connection itself fails (refused, silent, dropped), the other due messages get that
  error without being tried: an outage costs one deadline per pass, not one per message.

Delivery is at least once: a worker killed between the server's "250" and its commit leaves a
message that is sent again, and every copy carries the one Message-ID of its outbox row.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from flask import current_app
from flask_mail import Message, sanitize_address, sanitize_addresses
from sqlalchemy import ColumnElement, CursorResult, or_, select, update

from portal.core.db import db, transaction, utcnow
from portal.mail.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0  # attempts that failed this pass: rescheduled, or refused (below)
    refused: int = 0  # of those, refused for good (5xx on every recipient): now ``failed``
    files: list[str] = field(default_factory=list)  # .eml files written (no SMTP configured)

    def __str__(self) -> str:
        text = f"claimed {self.claimed}, sent {self.sent}, failed {self.failed}"
        if self.refused:
            text += f" ({self.refused} refused for good)"
        return text + "".join(f"\n  written: {path}" for path in self.files)


def deadline_seconds() -> float:
    """How long one message's SMTP conversation may take, connecting included."""
    return float(current_app.config["MAIL_TIMEOUT_SECONDS"])


def lease() -> timedelta:
    """How long a claim lasts: the message's deadline and half as much again to record it."""
    return timedelta(seconds=deadline_seconds() * 1.5)


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the n-th failed attempt: base, 2×base, 4×base… then the ceiling, forever."""
    base = current_app.config["MAIL_RETRY_BASE_SECONDS"]
    ceiling = current_app.config["MAIL_RETRY_MAX_SECONDS"]
    return timedelta(seconds=min(base * 2 ** min(max(attempts - 1, 0), 32), ceiling))


# ----------------------------------------------------------------------------- claims


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.claimed_at < now - lease()),
    )


def claim(worker: str, now: datetime) -> OutboxMessage | None:
    """Take the next due message for ``worker`` and commit, so no other worker takes it while
    the lease lasts; None when nothing is due.

    On PostgreSQL the candidate row is locked with FOR UPDATE SKIP LOCKED, so concurrent workers
    pick different rows without waiting. The UPDATE re-checks that the row is due, which keeps
    the claim exclusive on SQLite (no row locks, but one writer at a time); a worker that lost
    that race looks again.
    """
    due = _due(now)
    while True:
        found = db.session.scalar(
            select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(1).with_for_update(skip_locked=True)
        )
        if found is None:
            db.session.commit()
            return None
        token = f"{worker}:{uuid.uuid4().hex[:12]}"[-100:]
        result = cast(CursorResult[Any], db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == found, due)
            .values(status=OutboxStatus.SENDING, claimed_by=token, claimed_at=now)
            .execution_options(synchronize_session=False)
        ))
        db.session.commit()
        if result.rowcount == 1:
            return db.session.get(OutboxMessage, found, populate_existing=True)


# ----------------------------------------------------------------------------- one pass


def deliver_batch(worker: str | None = None, now: datetime | None = None) -> DeliveryReport:
    """One pass: up to MAIL_BATCH_SIZE due messages, each claimed, sent and recorded on its own.

    ``now`` moves the clock (tests); by default every step reads the time when it happens.
    Without MAIL_SERVER, messages are written as .eml files instead.
    """
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"

    def clock() -> datetime:
        return now or utcnow()

    report = DeliveryReport()
    smtp = SMTPConnection(current_app.extensions["mail"], deadline_seconds()) \
        if current_app.config.get("MAIL_SERVER") else None
    try:
        while report.claimed < current_app.config["MAIL_BATCH_SIZE"]:
            message = claim(worker, clock())
            if message is None:
                break
            report.claimed += 1
            message_id = message.id
            try:
                _deliver_one(message, smtp, report, clock)
            except Exception:  # e.g. the database went away: the claim runs out, the message is due again
                log.exception("mail: message %s: its outcome could not be recorded", message_id)
                raise
            if smtp is not None and smtp.broken:
                _postpone_due(worker, f"not tried, the SMTP connection failed: {smtp.broken}", report, clock)
                break
    finally:
        if smtp is not None:
            smtp.close()
    return report


def _deliver_one(message: OutboxMessage, smtp: SMTPConnection | None, report: DeliveryReport,
                 clock: Callable[[], datetime]) -> None:
    message_id = message.id
    try:
        if smtp is None:
            path = write_eml(message)
            _mark_sent(message, str(path), clock())
            report.files.append(str(path))
        else:
            refused = smtp.send(to_flask_message(message))
            _mark_sent(message, "smtp", clock(), refused)
        report.sent += 1
    except smtplib.SMTPRecipientsRefused as exc:
        codes = {code for code, _ in exc.recipients.values()}
        reason = _refusals(exc.recipients)
        if codes and min(codes) >= 500:
            _mark_refused(message, reason)
            report.refused += 1
        else:
            _mark_failed_attempt(message, reason, clock())
        report.failed += 1
    except Exception as exc:
        log.warning("mail: message %s not sent: %s", message_id, _describe(exc), exc_info=not _expected(exc))
        _mark_failed_attempt(message, _describe(exc), clock())
        report.failed += 1


def _postpone_due(worker: str, error: str, report: DeliveryReport, clock: Callable[[], datetime]) -> None:
    """The connection failed: every other due message gets the error and its next attempt."""
    while (message := claim(worker, clock())) is not None:
        report.claimed += 1
        _mark_failed_attempt(message, error, clock())
        report.failed += 1


def _mark_sent(message: OutboxMessage, where: str, now: datetime,
               refused: dict[str, tuple[int, bytes]] | None = None) -> None:
    with transaction():
        message.status = OutboxStatus.SENT
        message.sent_at = now
        message.attempts += 1
        # Accepted for some recipients: sent (a retry would repeat it to the others), with a note.
        message.last_error = f"not accepted for {_refusals(refused)}"[:2000] if refused else None
        message.delivered_to = where


def _mark_failed_attempt(message: OutboxMessage, error: str, now: datetime) -> None:
    message_id, attempts = message.id, message.attempts + 1
    due = now + retry_delay(attempts)
    with transaction():
        message.attempts = attempts
        message.last_error = error[:2000]
        message.status = OutboxStatus.PENDING
        message.claimed_by = None
        message.next_attempt_at = due
    log.warning("mail: message %s: attempt %s failed, next attempt at %s: %s",
                message_id, attempts, due.isoformat(timespec="seconds"), error)


def _mark_refused(message: OutboxMessage, reason: str) -> None:
    message_id = message.id
    with transaction():
        message.attempts += 1
        message.last_error = f"refused for good: {reason}"[:2000]
        message.status = OutboxStatus.FAILED
        message.claimed_by = None
    log.warning("mail: message %s refused for good: %s", message_id, reason)


def _refusals(recipients: dict[str, tuple[int, bytes]] | None) -> str:
    return ", ".join(f"{address} ({code} {reply.decode(errors='replace')})"
                     for address, (code, reply) in (recipients or {}).items())


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _expected(exc: BaseException) -> bool:
    """SMTP and network failures are expected (no traceback in the log); anything else is a bug."""
    return isinstance(exc, smtplib.SMTPException | OSError)


def retry_now(message: OutboxMessage) -> bool:
    """The secretariat sends a failed or waiting message at the next pass, back-off restarted;
    False when it has been sent or claimed meanwhile (the UPDATE checks, so never sent twice)."""
    result = cast(CursorResult[Any], db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id,
               OutboxMessage.status.in_([OutboxStatus.FAILED, OutboxStatus.PENDING]))
        .values(status=OutboxStatus.PENDING, next_attempt_at=utcnow(), attempts=0, claimed_by=None)
        .execution_options(synchronize_session=False)
    ))
    return result.rowcount == 1


# ----------------------------------------------------------------------------- SMTP


class SMTPConnection:
    """One SMTP connection for a pass, opened at the first message. Flask-Mail 0.10 opens its
    connection without a timeout; this one has a timeout on every socket operation and a
    deadline on each message, enforced by a watchdog that shuts the socket down."""

    def __init__(self, settings: Any, timeout: float) -> None:
        self.settings = settings  # Flask-Mail's state: server, port, use_tls, use_ssl, …
        self.timeout = timeout
        self.host: smtplib.SMTP | None = None
        self.broken: str | None = None  # why the connection can no longer be used
        self._expired = threading.Event()

    def send(self, message: Message) -> dict[str, tuple[int, bytes]]:
        """Send one message; the recipients that were refused while others were accepted."""
        if message.has_bad_headers():
            raise ValueError("a header contains a line break")
        data = message.as_bytes()
        sender = sanitize_address(message.sender)
        recipients = list(sanitize_addresses(message.send_to))
        if self.settings.suppress:  # MAIL_SUPPRESS_SEND: accepted without a conversation
            return {}
        self._expired.clear()
        watchdog = threading.Timer(self.timeout, self._expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            if self.host is None:
                self.host = self._open()
            return self.host.sendmail(sender, recipients, data, message.mail_options, message.rcpt_options)
        except smtplib.SMTPRecipientsRefused:
            raise  # smtplib has reset the transaction: the connection goes on
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421 or self._expired.is_set():  # 421: the server closes the connection
                self._break(exc)
            raise
        except Exception as exc:
            self._break(exc)
            if self._expired.is_set():
                raise TimeoutError(f"no answer from the SMTP server within {self.timeout:g} s") from exc
            raise
        finally:
            watchdog.cancel()
            if self._expired.is_set() and not self.broken:  # expired just after it succeeded
                self._drop()

    def _open(self) -> smtplib.SMTP:
        cls = smtplib.SMTP_SSL if self.settings.use_ssl else smtplib.SMTP
        host = cls(timeout=self.timeout)  # no host given: nothing connects yet
        self.host = host  # the watchdog can reach its socket from here on
        host.set_debuglevel(int(self.settings.debug))
        host.connect(self.settings.server, self.settings.port)
        if self.settings.use_tls:
            host.starttls()
        if self.settings.username and self.settings.password:
            host.login(self.settings.username, self.settings.password)
        return host

    def _expire(self) -> None:
        self._expired.set()
        sock = getattr(self.host, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _break(self, exc: BaseException) -> None:
        self.broken = f"no answer from the SMTP server within {self.timeout:g} s" if self._expired.is_set() \
            else _describe(exc)
        self._drop()

    def _drop(self) -> None:
        if self.host is not None:
            self.host.close()
            self.host = None

    def close(self) -> None:
        """QUIT politely when the connection is healthy (within the deadline), else just close."""
        if self.host is None:
            return
        self._expired.clear()
        watchdog = threading.Timer(self.timeout, self._expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            self.host.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            watchdog.cancel()
            self._drop()


# ----------------------------------------------------------------------------- messages


class _Message(Message):
    """Flask-Mail's message with iMIP's calendar part (RFC 6047 §2.4): the invitation is an
    alternative to the text, ``text/calendar; method=…; charset=UTF-8`` (clients show an
    invitation card only with the ``method`` parameter), and the same file is attached as
    invite.ics for clients that only offer attachments."""

    calendar_method: str | None = None

    def _message(self):
        msg = super()._message()
        if self.calendar_method:
            for part in msg.walk():
                if part.get_content_type() == "text/calendar" and part.get_filename() is None:
                    part.set_param("charset", "UTF-8")
                    part.set_param("method", self.calendar_method)
        return msg


def to_flask_message(message: OutboxMessage) -> Message:
    msg = _Message(
        subject=message.subject,
        recipients=list(message.recipients),
        body=message.body,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        reply_to=message.reply_to,
        charset="utf-8",
        extra_headers=dict(message.headers or {}),
    )
    # One stable Message-ID per outbox row, so a resend is recognizable as the same message.
    msg.msgId = f"<outbox-{message.id}@{_mail_domain()}>"
    for item in message.attachments or []:
        if item.get("method"):
            msg.calendar_method = item["method"]
            msg.alts = {"calendar": item["data"]}
            msg.attach(item["filename"], "application/ics", item["data"].encode("utf-8"))
        else:
            msg.attach(item["filename"], item["content_type"], item["data"].encode("utf-8"))
    return msg


def _mail_domain() -> str:
    sender = current_app.config["MAIL_DEFAULT_SENDER"] or ""
    return sender.rsplit("@", 1)[-1].strip(">") or socket.getfqdn()


def write_eml(message: OutboxMessage) -> Path:
    """Without an SMTP server, a message is kept as an .eml file under instance/mail."""
    directory = Path(current_app.config["MAIL_FILE_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{message.created_at:%Y%m%d-%H%M%S}-{message.id:06d}.eml"
    path.write_bytes(to_flask_message(message).as_bytes())
    return path
