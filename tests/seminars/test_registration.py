"""Seminar registration, the waitlist, their mails and reminders, through HTTP on a real database.

Members and observers register from the seminar page (POST /seminars/<id>/registration) and
cancel (POST /seminars/<id>/registration/cancel). Capacity is never exceeded, also when many
accounts register at the same moment; when full, registrations join the waitlist and a
cancellation promotes the first waiting person. Every outcome is mailed through the outbox, and
the join link is only ever shown or mailed to registered (not waiting) accounts.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, time, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import AuthActions, csrf_token, get_html, join_url, logged_in, page_text
from sqlalchemy import select

from portal.core.dates import fiscal_year, local_datetime, today_local
from portal.core.db import db, utcnow
from portal.seminars import jobs
from portal.seminars.models import Registration, RegistrationState, Seminar, SeminarStatus

# ----------------------------------------------------------------------------- helpers


def update_seminar(app, seminar_id: int, **values: Any) -> None:
    with app.app_context():
        seminar = db.session.get(Seminar, seminar_id)
        for name, value in values.items():
            setattr(seminar, name, value)
        db.session.commit()


def states(app, seminar_id: int) -> dict[int, RegistrationState]:
    """user id → registration state, for every registration row of the seminar."""
    with app.app_context():
        rows = db.session.scalars(select(Registration).where(Registration.seminar_id == seminar_id))
        return {r.user_id: r.state for r in rows}


def row_count(app, seminar_id: int) -> int:
    with app.app_context():
        return len(list(db.session.scalars(select(Registration.id).where(Registration.seminar_id == seminar_id))))


def count(app, seminar_id: int, state: RegistrationState) -> int:
    return sum(1 for s in states(app, seminar_id).values() if s is state)


def registration_mails(outbox, email: str | None = None, event: str | None = None) -> list:
    """Outbox rows about registrations (optionally to one address, of one event), oldest first."""
    rows = [m for m in outbox() if m.kind.startswith("registration.")]
    if email is not None:
        rows = [m for m in rows if email in m.recipients]
    if event is not None:
        rows = [m for m in rows if m.kind == f"registration.{event}"]
    return rows


def events(outbox, email: str) -> list[str]:
    return [m.kind.removeprefix("registration.") for m in registration_mails(outbox, email)]


FLASH_RE = re.compile(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', re.S)


def flashes(html: str) -> list[tuple[str, str]]:
    return [(category, page_text(body)) for category, body in FLASH_RE.findall(html)]


def register(auth: AuthActions, seminar_id: int):
    return auth.post(f"/seminars/{seminar_id}/registration")


def cancel(auth: AuthActions, seminar_id: int):
    return auth.post(f"/seminars/{seminar_id}/registration/cancel")


def assert_back_on_page(response, seminar_id: int) -> None:
    assert response.status_code == 302, response.get_data(as_text=True)
    assert urlsplit(response.headers["Location"]).path == f"/seminars/{seminar_id}"


def has_register_form(html: str, seminar_id: int) -> bool:
    return f'action="/seminars/{seminar_id}/registration"' in html


def has_cancel_form(html: str, seminar_id: int) -> bool:
    # the page links to the confirmation step (GET), whose form posts the cancellation
    return f'href="/seminars/{seminar_id}/registration/cancel"' in html


# ----------------------------------------------------------------------------- register and cancel


@pytest.mark.parametrize("role", ["member", "observer"])
def test_account_registers_from_the_seminar_page_and_gets_the_join_link(app, outbox, create_user, role, make_seminar):
    sid = make_seminar("reg-basic", capacity=30, title="登録テスト reg-basic")
    user = create_user(role)
    auth = logged_in(app, user)

    before = get_html(auth.client, f"/seminars/{sid}")
    assert has_register_form(before, sid)
    assert "参加を申し込む" in page_text(before)
    assert join_url("reg-basic") not in before

    response = register(auth, sid)
    assert_back_on_page(response, sid)
    after = get_html(auth.client, f"/seminars/{sid}")
    assert flashes(after) == [("success", "参加登録しました。確認メールをお送りします。")]
    assert "参加登録済みです。" in page_text(after)
    assert f'href="{join_url("reg-basic")}"' in after
    assert has_cancel_form(after, sid) and not has_register_form(after, sid)
    assert "残り 29席" in page_text(after)

    assert states(app, sid) == {user.id: RegistrationState.REGISTERED}
    [mail] = registration_mails(outbox, user.email)
    assert mail.kind == "registration.registered"
    assert mail.recipients == [user.email]
    assert "登録テスト reg-basic" in mail.subject
    assert join_url("reg-basic") in mail.body
    assert f"http://portal.test/seminars/{sid}" in mail.body


def test_cancelling_removes_the_join_link_and_is_mailed_without_it(app, outbox, create_user, make_seminar):
    sid = make_seminar("reg-cancel", capacity=5)
    user = create_user("member")
    auth = logged_in(app, user)
    register(auth, sid)

    response = cancel(auth, sid)
    assert_back_on_page(response, sid)
    html = get_html(auth.client, f"/seminars/{sid}")
    assert flashes(html) == [("info", "参加登録を取り消しました。")]
    assert join_url("reg-cancel") not in html
    assert has_register_form(html, sid) and not has_cancel_form(html, sid)
    assert "参加登録済み" not in page_text(html)
    assert states(app, sid) == {user.id: RegistrationState.CANCELLED}

    assert events(outbox, user.email) == ["registered", "cancelled"]
    cancelled = registration_mails(outbox, user.email, "cancelled")[0]
    assert join_url("reg-cancel") not in cancelled.body
    assert "取り消しました" in cancelled.body

    # Cancelling again changes nothing and mails nothing.
    assert_back_on_page(cancel(auth, sid), sid)
    assert events(outbox, user.email) == ["registered", "cancelled"]

    # Registering again after cancelling works, with a fresh confirmation.
    assert_back_on_page(register(auth, sid), sid)
    assert states(app, sid) == {user.id: RegistrationState.REGISTERED}
    assert row_count(app, sid) == 1
    assert events(outbox, user.email) == ["registered", "cancelled", "registered"]
    assert join_url("reg-cancel") in get_html(auth.client, f"/seminars/{sid}")


def test_registering_twice_does_nothing(app, outbox, create_user, make_seminar):
    sid = make_seminar("reg-twice", capacity=1)
    first, second = create_user("member"), create_user("observer")
    first_auth, second_auth = logged_in(app, first), logged_in(app, second)

    register(first_auth, sid)
    register(second_auth, sid)  # full: waitlisted
    with app.app_context():
        queued = db.session.scalar(select(Registration.queued_at).where(Registration.user_id == second.id))

    for auth in (first_auth, second_auth, first_auth, second_auth):
        assert_back_on_page(register(auth, sid), sid)

    assert states(app, sid) == {first.id: RegistrationState.REGISTERED, second.id: RegistrationState.WAITING}
    assert row_count(app, sid) == 2
    assert events(outbox, first.email) == ["registered"]
    assert events(outbox, second.email) == ["waiting"]
    with app.app_context():
        # Pressing the button again does not send the waiting account to the back of the queue.
        assert db.session.scalar(select(Registration.queued_at).where(Registration.user_id == second.id)) == queued


def test_full_seminar_puts_registrations_on_the_waitlist(app, outbox, create_user, make_seminar):
    sid = make_seminar("reg-full", capacity=2)
    users = [create_user("member") for _ in range(3)]
    clients = [logged_in(app, u) for u in users]
    register(clients[0], sid)
    html = get_html(clients[1].client, f"/seminars/{sid}")
    assert "残り 1席" in page_text(html)
    register(clients[1], sid)

    html = get_html(clients[2].client, f"/seminars/{sid}")
    assert "満席（キャンセル待ち受付中）" in page_text(html)
    assert "キャンセル待ちに登録する" in page_text(html)

    assert_back_on_page(register(clients[2], sid), sid)
    html = get_html(clients[2].client, f"/seminars/{sid}")
    assert flashes(html) == [("info", "定員に達しているため、キャンセル待ちとして登録しました。")]
    assert "キャンセル待ちです。" in page_text(html)
    assert join_url("reg-full") not in html
    assert "キャンセル待ちをやめる" in page_text(html)

    assert count(app, sid, RegistrationState.REGISTERED) == 2
    assert states(app, sid)[users[2].id] is RegistrationState.WAITING
    [waiting_mail] = registration_mails(outbox, users[2].email)
    assert waiting_mail.kind == "registration.waiting"
    assert "キャンセル待ち" in waiting_mail.body
    assert join_url("reg-full") not in waiting_mail.body


def test_cancellation_promotes_the_first_come_waiting_account_who_is_mailed(app, outbox, create_user, make_seminar):
    sid = make_seminar("reg-promote", capacity=1)
    holder, late, early, third = (create_user("member") for _ in range(4))
    holder_auth, late_auth, early_auth, third_auth = (logged_in(app, u) for u in (holder, late, early, third))

    register(holder_auth, sid)
    # ``late`` joins the waitlist first but leaves it, so its row is older than ``early``'s…
    register(late_auth, sid)
    cancel(late_auth, sid)
    register(early_auth, sid)
    # …and when it comes back it queues behind ``early``.
    register(late_auth, sid)
    register(third_auth, sid)
    assert states(app, sid) == {
        holder.id: RegistrationState.REGISTERED, late.id: RegistrationState.WAITING,
        early.id: RegistrationState.WAITING, third.id: RegistrationState.WAITING,
    }

    assert_back_on_page(cancel(holder_auth, sid), sid)

    assert states(app, sid) == {
        holder.id: RegistrationState.CANCELLED, late.id: RegistrationState.WAITING,
        early.id: RegistrationState.REGISTERED, third.id: RegistrationState.WAITING,
    }
    assert events(outbox, early.email) == ["waiting", "promoted"]
    promoted = registration_mails(outbox, early.email, "promoted")[0]
    assert join_url("reg-promote") in promoted.body
    assert promoted.recipients == [early.email]
    assert events(outbox, late.email) == ["waiting", "cancelled", "waiting"]
    assert events(outbox, third.email) == ["waiting"]
    assert events(outbox, holder.email) == ["registered", "cancelled"]
    assert join_url("reg-promote") in get_html(early_auth.client, f"/seminars/{sid}")

    # The next freed place goes to the next in line: ``late`` (re-queued before ``third``).
    cancel(early_auth, sid)
    assert states(app, sid)[late.id] is RegistrationState.REGISTERED
    assert states(app, sid)[third.id] is RegistrationState.WAITING
    assert count(app, sid, RegistrationState.REGISTERED) == 1


def test_leaving_the_waitlist_promotes_nobody(app, outbox, create_user, make_seminar):
    sid = make_seminar("reg-leave", capacity=1)
    holder, first, second = (create_user("member") for _ in range(3))
    holder_auth, first_auth, second_auth = (logged_in(app, u) for u in (holder, first, second))
    for auth in (holder_auth, first_auth, second_auth):
        register(auth, sid)

    html = get_html(first_auth.client, f"/seminars/{sid}")
    assert has_cancel_form(html, sid)
    assert_back_on_page(cancel(first_auth, sid), sid)

    assert states(app, sid) == {
        holder.id: RegistrationState.REGISTERED, first.id: RegistrationState.CANCELLED,
        second.id: RegistrationState.WAITING,
    }
    assert events(outbox, first.email) == ["waiting", "cancelled"]
    assert join_url("reg-leave") not in registration_mails(outbox, first.email, "cancelled")[0].body
    assert registration_mails(outbox, event="promoted") == []


# ----------------------------------------------------------------------------- refusals


def _closed(app, sid):
    update_seminar(app, sid, registration_open=False)


def _deadline_passed(app, sid):
    update_seminar(app, sid, registration_closes_at=utcnow() - timedelta(minutes=1))


def _not_yet_open(app, sid):
    update_seminar(app, sid, registration_opens_at=utcnow() + timedelta(days=1))


def _cancelled(app, sid):
    update_seminar(app, sid, status=SeminarStatus.CANCELLED)


REFUSALS = {
    "registration-closed": ({}, _closed, "受け付けていません"),
    "closing-time-passed": ({}, _deadline_passed, "締め切りました"),
    "not-yet-open": ({}, _not_yet_open, "からです"),
    "seminar-cancelled": ({}, _cancelled, "中止"),
    "past-seminar": ({"days": -7}, None, "終了しました"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_registration_is_refused_with_a_message_and_nothing_is_written(app, outbox, create_user, case, make_seminar):
    seminar_args, change, message = REFUSALS[case]
    sid = make_seminar(f"refused-{case}", capacity=10, **seminar_args)
    if change:
        change(app, sid)
    user = create_user("member")
    auth = logged_in(app, user)

    html = get_html(auth.client, f"/seminars/{sid}")
    assert not has_register_form(html, sid)
    assert message in page_text(html)

    response = register(auth, sid)
    assert_back_on_page(response, sid)
    html = get_html(auth.client, f"/seminars/{sid}")
    [(category, text)] = flashes(html)
    assert category == "error"
    assert message in text
    assert join_url(f"refused-{case}") not in html

    assert row_count(app, sid) == 0
    assert registration_mails(outbox) == []


def test_registration_before_the_closing_time_is_accepted(app, outbox, create_user, make_seminar):
    sid = make_seminar("deadline-ahead", capacity=10)
    update_seminar(app, sid, registration_closes_at=utcnow() + timedelta(hours=1))
    user = create_user("observer")
    register(logged_in(app, user), sid)
    assert states(app, sid) == {user.id: RegistrationState.REGISTERED}
    assert events(outbox, user.email) == ["registered"]


def test_draft_seminar_cannot_be_registered_for(app, outbox, create_user, make_seminar):
    sid = make_seminar("draft-reg", capacity=10, status="draft")
    member = logged_in(app, create_user("member"))
    assert member.client.get(f"/seminars/{sid}").status_code == 404
    assert register(member, sid).status_code == 404

    # The secretariat sees the draft, and is told why it cannot register.
    secretariat = logged_in(app, create_user("secretariat"))
    assert_back_on_page(register(secretariat, sid), sid)
    [(category, text)] = flashes(get_html(secretariat.client, f"/seminars/{sid}"))
    assert category == "error" and "公開されていません" in text

    assert row_count(app, sid) == 0
    assert registration_mails(outbox) == []


@pytest.mark.parametrize("action", ["registration", "registration/cancel"])
def test_visitor_posting_is_sent_to_login(app, client, outbox, action, make_seminar):
    sid = make_seminar(f"visitor-{action.replace('/', '-')}", capacity=10)
    html = get_html(client, f"/seminars/{sid}")
    assert "ログインして参加を申し込む" in page_text(html)
    assert not has_register_form(html, sid) and not has_cancel_form(html, sid)
    token = csrf_token(client, "/login")  # a visitor has a session token only from a form page
    response = client.post(f"/seminars/{sid}/{action}", data={"csrf_token": token})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert row_count(app, sid) == 0
    assert registration_mails(outbox) == []


def test_posting_without_the_csrf_token_is_refused_and_changes_nothing(app, outbox, create_user, make_seminar):
    sid = make_seminar("no-csrf", capacity=10)
    user = create_user("member")
    auth = logged_in(app, user)

    assert auth.client.post(f"/seminars/{sid}/registration").status_code == 400
    assert auth.client.post(f"/seminars/{sid}/registration", data={"csrf_token": "forged"}).status_code == 400
    assert row_count(app, sid) == 0
    assert registration_mails(outbox) == []

    register(auth, sid)
    assert auth.client.post(f"/seminars/{sid}/registration/cancel").status_code == 400
    assert states(app, sid) == {user.id: RegistrationState.REGISTERED}
    assert events(outbox, user.email) == ["registered"]


# ----------------------------------------------------------------------------- the join link


def test_join_link_is_shown_only_to_registered_accounts(app, client, create_user, make_seminar):
    key = "link-only"
    link = join_url(key)
    sid = make_seminar(key, days=14, capacity=1)
    registered, waiting, left, outsider = (create_user(r) for r in ("member", "observer", "member", "observer"))
    registered_auth, waiting_auth, left_auth, outsider_auth = (
        logged_in(app, u) for u in (registered, waiting, left, outsider)
    )
    register(registered_auth, sid)
    register(left_auth, sid)
    cancel(left_auth, sid)
    register(waiting_auth, sid)
    assert states(app, sid) == {
        registered.id: RegistrationState.REGISTERED, waiting.id: RegistrationState.WAITING,
        left.id: RegistrationState.CANCELLED,
    }

    fy = fiscal_year(today_local() + timedelta(days=14))
    assert link in get_html(registered_auth.client, f"/seminars/{sid}")
    for who, c in {"visitor": client, "waiting": waiting_auth.client, "cancelled": left_auth.client,
                   "unregistered": outsider_auth.client}.items():
        assert link not in get_html(c, f"/seminars/{sid}"), who
        assert link not in get_html(c, f"/seminars?fy={fy}"), who
        assert link not in get_html(c, "/seminars"), who
    for c in (client, registered_auth.client):
        api = c.get("/api/v1/seminars")
        assert api.status_code == 200
        assert any(s["key"] == key for s in api.get_json()["seminars"])
        assert link not in api.get_data(as_text=True)
    waiting_page = get_html(waiting_auth.client, "/account/seminars")
    assert "キャンセル待ち" in page_text(waiting_page)
    assert link not in waiting_page
    assert link not in get_html(left_auth.client, "/account/seminars")


# ----------------------------------------------------------------------------- my seminars


def _section(html: str, heading: str) -> str:
    """The HTML of the <section> whose <h2> is ``heading``."""
    match = re.search(rf"<section>\s*<h2>{re.escape(heading)}</h2>(.*?)</section>", html, re.S)
    assert match, f"no section {heading!r}"
    return match.group(1)


def _rows(section_html: str) -> list[tuple[int, str]]:
    return [
        (int(sid), page_text(state))
        for sid, state in re.findall(
            r'<tr data-seminar-id="(\d+)">.*?<td class="registration-state">(.*?)</td>', section_html, re.S
        )
    ]


def test_my_seminars_lists_upcoming_and_past_registrations_with_their_state(app, client, create_user, make_seminar):
    user, other = create_user("member"), create_user("member")
    auth, other_auth = logged_in(app, user), logged_in(app, other)
    later = make_seminar("mine-later", days=30, capacity=10, title="登録テスト mine-later")
    sooner = make_seminar("mine-sooner", days=10, capacity=1)
    dropped = make_seminar("mine-dropped", days=20, capacity=10)
    others = make_seminar("mine-others", days=25, capacity=10)
    past = make_seminar("mine-past", days=-40, capacity=10, title="登録テスト mine-past")

    register(other_auth, sooner)  # fills it: ``user`` waits
    register(auth, sooner)
    register(auth, later)
    register(auth, dropped)
    cancel(auth, dropped)
    register(other_auth, others)
    with app.app_context():  # registration for a past seminar is closed: it dates from before
        db.session.add(Registration(seminar_id=past, user_id=user.id, state=RegistrationState.REGISTERED))
        db.session.commit()

    html = get_html(auth.client, "/account/seminars")
    assert _rows(_section(html, "これから")) == [(sooner, "キャンセル待ち"), (later, "参加登録済み")]
    assert _rows(_section(html, "過去のセミナー")) == [(past, "参加登録済み")]
    text = page_text(html)
    assert "登録テスト mine-later" in text and "登録テスト mine-past" in text
    assert "mine-dropped" not in text and "mine-others" not in text
    assert join_url("mine-sooner") not in html

    response = client.get("/account/seminars")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


# ----------------------------------------------------------------------------- reminders


def test_reminder_the_day_before_reaches_each_registered_account_once(app, outbox, create_user, make_seminar):
    day = today_local() + timedelta(days=3)
    sid = make_seminar("remind", days=3, capacity=2)
    called_off = make_seminar("remind-called-off", days=3, capacity=10)
    other_day = make_seminar("remind-other-day", days=4, capacity=10)
    first, promoted, waiting, left, off = (create_user("member") for _ in range(5))
    first_auth, promoted_auth, waiting_auth, left_auth, off_auth = (
        logged_in(app, u) for u in (first, promoted, waiting, left, off)
    )
    register(first_auth, sid)
    register(left_auth, sid)
    register(promoted_auth, sid)
    register(waiting_auth, sid)
    cancel(left_auth, sid)  # ``promoted`` moves up; ``waiting`` stays on the list
    register(off_auth, called_off)
    register(first_auth, other_day)
    update_seminar(app, called_off, status=SeminarStatus.CANCELLED)
    assert states(app, sid) == {
        first.id: RegistrationState.REGISTERED, promoted.id: RegistrationState.REGISTERED,
        waiting.id: RegistrationState.WAITING, left.id: RegistrationState.CANCELLED,
    }

    def run(at_day: date, at: time) -> int:
        with app.app_context():
            return jobs.send_reminders(now=local_datetime(at_day, at))

    assert run(day - timedelta(days=2), time(9, 0)) == 0
    assert registration_mails(outbox, event="reminder") == []

    assert run(day - timedelta(days=1), time(9, 0)) == 2
    assert run(day - timedelta(days=1), time(9, 0)) == 0
    assert run(day - timedelta(days=1), time(18, 0)) == 0

    reminders = registration_mails(outbox, event="reminder")
    assert sorted(m.recipients[0] for m in reminders) == sorted([first.email, promoted.email])
    for mail in reminders:
        assert len(mail.recipients) == 1
        assert join_url("remind") in mail.body
        assert "明日" in mail.body
    for nobody in (waiting, left, off):
        assert "reminder" not in events(outbox, nobody.email)

    # The next day's seminar gets its reminder on its own eve, once.
    assert run(day, time(9, 0)) == 1
    assert events(outbox, first.email).count("reminder") == 2


def test_reminder_runs_at_the_same_time_mail_each_registration_once(app, outbox, create_user, make_seminar):
    day = today_local() + timedelta(days=2)
    sid = make_seminar("remind-race", days=2, capacity=10)
    users = [create_user("member") for _ in range(4)]
    for user in users:
        register(logged_in(app, user), sid)
    now = local_datetime(day - timedelta(days=1), time(8, 0))
    barrier = threading.Barrier(3)

    def run() -> int:
        barrier.wait(timeout=30)
        with app.app_context():
            return jobs.send_reminders(now=now)

    with ThreadPoolExecutor(max_workers=3) as pool:
        sent = [f.result() for f in [pool.submit(run) for _ in range(3)]]

    assert sum(sent) == 4
    reminders = registration_mails(outbox, event="reminder")
    assert sorted(m.recipients[0] for m in reminders) == sorted(u.email for u in users)


def test_send_reminders_command(app, runner, outbox, create_user, make_seminar):
    sid = make_seminar("remind-cli", days=1, capacity=1)
    registered, waiting = create_user("member"), create_user("observer")
    register(logged_in(app, registered), sid)
    register(logged_in(app, waiting), sid)

    first = runner.invoke(args=["portal", "send-reminders"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["portal", "send-reminders"])
    assert second.exit_code == 0, second.output

    reminders = registration_mails(outbox, event="reminder")
    assert [m.recipients for m in reminders] == [[registered.email]]
    assert join_url("remind-cli") in reminders[0].body
    assert events(outbox, waiting.email) == ["waiting"]


# ----------------------------------------------------------------------------- concurrency


def post_together(jobs: list[tuple[AuthActions, str]]) -> list[int]:
    """POST every (client, path) at the same moment, each from its own thread."""
    prepared = [(auth.client, path, csrf_token(auth.client, "/")) for auth, path in jobs]
    barrier = threading.Barrier(len(prepared))

    def post(job) -> int:
        client, path, token = job
        barrier.wait(timeout=60)
        return client.post(path, data={"csrf_token": token}).status_code

    with ThreadPoolExecutor(max_workers=len(prepared)) as pool:
        return list(pool.map(post, prepared))


def test_fifty_registering_at_once_never_exceed_twenty_places(app, outbox, create_user, make_seminar):
    sid = make_seminar("rush", capacity=20)
    users = [create_user("member" if i % 2 else "observer") for i in range(50)]
    clients = [logged_in(app, u) for u in users]

    codes = post_together([(auth, f"/seminars/{sid}/registration") for auth in clients])

    assert codes == [302] * 50
    by_user = states(app, sid)
    assert row_count(app, sid) == 50
    assert sum(1 for s in by_user.values() if s is RegistrationState.REGISTERED) == 20
    assert sum(1 for s in by_user.values() if s is RegistrationState.WAITING) == 30
    mails = registration_mails(outbox)
    assert len(mails) == 50
    for user in users:
        expected = "registered" if by_user[user.id] is RegistrationState.REGISTERED else "waiting"
        assert events(outbox, user.email) == [expected]
    for mail in mails:
        assert (join_url("rush") in mail.body) == (mail.kind == "registration.registered")


def test_cancelling_and_registering_at_once_keep_the_capacity_and_the_queue(app, outbox, create_user, make_seminar):
    sid = make_seminar("swap", capacity=10)
    holders = [create_user("member") for _ in range(10)]
    queued = [create_user("observer") for _ in range(6)]
    newcomers = [create_user("member") for _ in range(14)]
    clients = {u.id: logged_in(app, u) for u in holders + queued + newcomers}
    for user in holders + queued:
        register(clients[user.id], sid)
    leaving, staying = holders[:6], holders[6:]

    jobs = [(clients[u.id], f"/seminars/{sid}/registration/cancel") for u in leaving]
    jobs += [(clients[u.id], f"/seminars/{sid}/registration") for u in newcomers]
    codes = post_together(jobs)

    assert codes == [302] * len(jobs)
    by_user = states(app, sid)
    assert sum(1 for s in by_user.values() if s is RegistrationState.REGISTERED) == 10
    # Each freed place went at once to someone already waiting, never to a newcomer.
    assert {u.id: by_user[u.id] for u in staying + queued} == dict.fromkeys(
        (u.id for u in staying + queued), RegistrationState.REGISTERED
    )
    assert {by_user[u.id] for u in leaving} == {RegistrationState.CANCELLED}
    assert {by_user[u.id] for u in newcomers} == {RegistrationState.WAITING}
    assert sorted(m.recipients[0] for m in registration_mails(outbox, event="promoted")) == sorted(
        u.email for u in queued
    )
    assert len(registration_mails(outbox, event="cancelled")) == 6
    assert len(registration_mails(outbox, event="waiting")) == 6 + 14
