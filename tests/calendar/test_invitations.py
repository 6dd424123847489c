"""Calendar invitations in mail (iMIP, RFC 6047 over RFC 5546) and the feeds they must agree with.

Every mail's calendar part is read with two independent parsers (icalendar and vobject, through
test_calendar's ``parse``), and the delivered messages are read off a real SMTP server: the
part's Content-Type carries ``method=`` (RFC 6047 §2.4), METHOD, ORGANIZER (the secretariat),
the recipient as ATTENDEE, the feeds' UID, and a SEQUENCE never below the feeds'.
"""

from __future__ import annotations

import time as clock
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from conftest import logged_in
from sqlalchemy import select
from test_calendar import approve_member, fetch, future_seminar, parse

from portal.core.dates import Precision, local_datetime, today_local
from portal.core.db import db
from portal.seminars import operations
from portal.seminars.models import Seminar, SeminarStatus
from portal.subcommittees import operations as sub_operations
from portal.subcommittees.models import SessionStatus, Subcommittee, SubcommitteeSession

SECRETARIAT = "secretariat-box@example.org"


def invitation(row, method: str) -> Any:
    """The one iMIP part of an outbox row, read by both parsers; its (only) event."""
    (part,) = row.attachments
    assert part["content_type"] == f"text/calendar; method={method}; charset=UTF-8"
    feed = parse(part["data"].encode("utf-8"), method)
    (event,) = feed.events.values()
    return feed, event


def check_people(feed, attendee: str) -> None:
    """ORGANIZER is the secretariat, ATTENDEE the recipient with PARTSTAT=ACCEPTED (both parsers)."""
    import icalendar
    import vobject

    raw = feed.raw
    (vevent,) = [c for c in icalendar.Calendar.from_ical(raw).walk("VEVENT")]
    assert str(vevent["ORGANIZER"]).lower() == f"mailto:{SECRETARIAT}"
    assert vevent["ORGANIZER"].params["CN"] == "官民連携プラットフォーム事務局"
    assert str(vevent["ATTENDEE"]).lower() == f"mailto:{attendee}"
    assert vevent["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"
    other = vobject.readOne(raw.decode("utf-8")).vevent
    assert other.organizer.value.lower() == f"mailto:{SECRETARIAT}"
    assert other.attendee.value.lower() == f"mailto:{attendee}"
    assert other.attendee.params["PARTSTAT"] == ["ACCEPTED"]


def edit(app, seminar_id: int, **values: Any) -> None:
    """A change through the operation the back office and the importer share."""
    with app.app_context():
        operations.update_seminar(db.session.get(Seminar, seminar_id), values)
        db.session.commit()


def rows_to(outbox, address: str) -> list:
    return [row for row in outbox() if row.recipients == [address]]


def test_registration_time_change_and_cancellation_story(app, client, create_user, outbox):
    seminar_id = future_seminar(app, "imip-story", capacity=1)
    member, waiting = create_user("member"), create_user("member")
    logged_in(app, member).post(f"/seminars/{seminar_id}/registration")
    logged_in(app, waiting).post(f"/seminars/{seminar_id}/registration")

    (registered,) = outbox("registration.registered")
    feed, first = invitation(registered, "REQUEST")
    check_people(feed, member.email)
    own = fetch(client, f"/seminars/{seminar_id}.ics")
    assert own.uids() == {first.uid}
    assert first.sequence >= own.events[first.uid].sequence
    assert "https://example.org/webinar/imip-story" in first.description
    (waits,) = outbox("registration.waiting")
    assert not waits.attachments, "the waitlist gets no invitation"

    # The time changes: the registered get an updated REQUEST, the waitlist only the text.
    day = today_local() + timedelta(days=31)
    edit(app, seminar_id, date_on=day, starts_at=local_datetime(day, datetime.min.time().replace(hour=10)),
         ends_at=local_datetime(day, datetime.min.time().replace(hour=12)))
    moved = {tuple(row.recipients): row for row in outbox("seminar.rescheduled")}
    assert not moved[(waiting.email,)].attachments
    feed, second = invitation(moved[(member.email,)], "REQUEST")
    check_people(feed, member.email)
    assert second.uid == first.uid
    assert second.sequence > first.sequence
    assert second.start[1] == datetime.combine(day, datetime.min.time().replace(hour=10))
    assert fetch(client, f"/seminars/{seminar_id}.ics").events[first.uid].sequence <= second.sequence

    # Cancelled: a CANCEL with a still higher SEQUENCE, the event CANCELLED, no join link.
    edit(app, seminar_id, status=SeminarStatus.CANCELLED)
    cancelled = {tuple(row.recipients): row for row in outbox("seminar.cancelled_by_secretariat")}
    assert not cancelled[(waiting.email,)].attachments
    feed, third = invitation(cancelled[(member.email,)], "CANCEL")
    check_people(feed, member.email)
    assert (third.uid, third.status) == (first.uid, "CANCELLED")
    assert third.sequence > second.sequence
    assert "webinar" not in feed.text
    public = fetch(client, "/calendar.ics").events[first.uid]
    assert public.status == "CANCELLED" and public.sequence <= third.sequence


def test_delivered_mail_has_the_imip_part_and_an_ics_file(make_app, smtp_server, create_user, outbox):
    app = make_app(**smtp_server.config())
    seminar_id = future_seminar(app, "imip-wire")
    member = create_user("member")
    logged_in(app, member).post(f"/seminars/{seminar_id}/registration")
    with app.app_context():
        from portal.mail.delivery import deliver_batch

        assert deliver_batch().sent == 1

    (msg,) = smtp_server.messages
    calendars = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    (part,) = calendars
    assert part.get_param("method") == "REQUEST"
    assert part.get_content_charset().lower() == "utf-8"
    assert part.get_filename() is None, "the invitation is an alternative to the text, not a file"
    assert msg.get_body(("plain",)).get_content().startswith(member.name)
    files = list(msg.iter_attachments())
    assert [f.get_filename() for f in files] == ["invite.ics"]
    data = part.get_payload(decode=True)
    assert files[0].get_payload(decode=True) == data
    feed = parse(data, "REQUEST")
    check_people(feed, member.email)


def test_unpublishing_cancels_for_the_registered_and_the_feed_says_drop_it(app, client, create_user, outbox):
    seminar_id = future_seminar(app, "imip-unpub", capacity=1)
    member, waiting = create_user("member"), create_user("member")
    logged_in(app, member).post(f"/seminars/{seminar_id}/registration")
    logged_in(app, waiting).post(f"/seminars/{seminar_id}/registration")
    path = f"/seminars/{seminar_id}.ics"
    (uid,) = fetch(client, path).uids()

    edit(app, seminar_id, status=SeminarStatus.DRAFT)
    notices = {tuple(row.recipients): row for row in outbox("seminar.unpublished")}
    assert set(notices) == {(member.email,), (waiting.email,)}, "unpublishing mails nobody no more"
    assert not notices[(waiting.email,)].attachments
    feed, event = invitation(notices[(member.email,)], "CANCEL")
    check_people(feed, member.email)
    assert event.uid == uid and event.status == "CANCELLED"
    assert uid not in fetch(client, f"/calendar/{member.calendar_token}.ics").uids()

    # Its own feed answers 200 without the event (subscribers drop it), not 404.
    gone = fetch(client, path)
    assert gone.uids() == set()
    # An undecided date also leaves the feeds; the feed stays.
    edit(app, seminar_id, status=SeminarStatus.PUBLISHED, date_on=None, precision=Precision.UNDECIDED,
         starts_at=None, ends_at=None)
    assert fetch(client, path).uids() == set()


def test_a_seminar_never_public_stays_404(app, client, make_seminar):
    draft = make_seminar("imip-never", status="draft")
    undecided = make_seminar("imip-undecided")
    with app.app_context():
        seminar = db.session.get(Seminar, undecided)
        operations.update_seminar(seminar, {"status": SeminarStatus.DRAFT})
        db.session.commit()
    assert client.get(f"/seminars/{draft}.ics").status_code == 404
    assert client.get("/seminars/2147483647.ics").status_code == 404
    # Published once, then drafted: 200.
    assert client.get(f"/seminars/{undecided}.ics").status_code == 200


def test_cancelled_registration_and_promotion(app, create_user, outbox):
    seminar_id = future_seminar(app, "imip-cancel", capacity=1)
    member, waiting = create_user("member"), create_user("member")
    first = logged_in(app, member)
    first.post(f"/seminars/{seminar_id}/registration")
    logged_in(app, waiting).post(f"/seminars/{seminar_id}/registration")
    _, invited = invitation(outbox("registration.registered")[0], "REQUEST")

    first.post(f"/seminars/{seminar_id}/registration/cancel")
    (cancelled,) = outbox("registration.cancelled")
    feed, event = invitation(cancelled, "CANCEL")
    check_people(feed, member.email)
    # Only this attendee is taken off: no STATUS:CANCELLED for an event that goes on (RFC 5546 §3.2.5).
    assert event.uid == invited.uid and event.sequence >= invited.sequence and event.status is None

    (promoted,) = outbox("registration.promoted")
    feed, event = invitation(promoted, "REQUEST")
    check_people(feed, waiting.email)
    assert event.uid == invited.uid and "webinar/imip-cancel" in event.description

    # Leaving the waitlist cancels nothing: there was no invitation.
    third = create_user("member")
    client = logged_in(app, third)
    client.post(f"/seminars/{seminar_id}/registration")
    client.post(f"/seminars/{seminar_id}/registration/cancel")
    assert not rows_to(outbox, third.email)[-1].attachments


def test_reminder_and_link_change_carry_the_current_request(app, create_user, outbox):
    seminar_id = future_seminar(app, "imip-remind", days=1)
    member = create_user("member")
    logged_in(app, member).post(f"/seminars/{seminar_id}/registration")
    edit(app, seminar_id, join_url="https://example.org/webinar/imip-remind-new")
    (updated,) = outbox("seminar.updated")
    feed, event = invitation(updated, "REQUEST")
    check_people(feed, member.email)
    assert "imip-remind-new" in event.description

    with app.app_context():
        from portal.seminars.jobs import send_reminders

        assert send_reminders() == 1
    (reminder,) = outbox("registration.reminder")
    feed, reminded = invitation(reminder, "REQUEST")
    check_people(feed, member.email)
    assert reminded.uid == event.uid and reminded.sequence >= event.sequence
    assert "imip-remind-new" in reminded.description


def _session(app, slug: str, number: int) -> SubcommitteeSession:
    return db.session.scalar(select(SubcommitteeSession).join(Subcommittee)
                             .where(Subcommittee.slug == slug, SubcommitteeSession.number == number))


def test_subcommittee_sessions_invite_and_cancel_each_member(app, client, make_subcommittee, create_user, outbox):
    sub_id = make_subcommittee("imip-sub", fiscal_year=2031, sessions=[
        {"number": 1, "title": "第一回", "date": "2031-05-13", "start": "14:00", "end": "15:00"}])
    one, two = create_user("member"), create_user("member")
    approve_member(app, one, "imip-sub")
    approve_member(app, two, "imip-sub")
    with app.app_context():
        sub = db.session.get(Subcommittee, sub_id)
        sub_operations.save_session(sub, _session(app, "imip-sub", 1), {"join_url": "https://example.org/s/1"})
        db.session.commit()
    feed_uid = next(iter(fetch(client, "/subcommittees/imip-sub/calendar.ics").uids()))
    scheduled = outbox("subcommittee.session_scheduled")
    assert sorted(r.recipients[0] for r in scheduled) == sorted([one.email, two.email])
    for row in scheduled:
        feed, event = invitation(row, "REQUEST")
        check_people(feed, row.recipients[0])
        assert event.uid == feed_uid and "https://example.org/s/1" in event.description

    with app.app_context():
        sub = db.session.get(Subcommittee, sub_id)
        sub_operations.save_session(sub, _session(app, "imip-sub", 1), {"status": SessionStatus.CANCELLED})
        db.session.commit()
    cancelled = outbox("subcommittee.session_cancelled")
    assert sorted(r.recipients[0] for r in cancelled) == sorted([one.email, two.email])
    for row in cancelled:
        feed, event = invitation(row, "CANCEL")
        check_people(feed, row.recipients[0])
        assert event.uid == feed_uid and event.status == "CANCELLED"
        assert event.sequence >= fetch(client, "/subcommittees/imip-sub/calendar.ics").events[feed_uid].sequence


def test_a_member_approved_later_gets_the_sessions_ahead_and_leaving_cancels_them(
        app, client, make_subcommittee, create_user, outbox):
    """Sessions announced before someone joined reached only the members of the day: the newcomer's
    calendar stayed empty until the next change. Leaving must drop them again."""
    make_subcommittee("imip-late", fiscal_year=2031, sessions=[
        {"number": 1, "title": "第一回", "date": "2031-05-13", "start": "14:00", "end": "15:00"}])
    newcomer, secretariat = create_user("member"), create_user("secretariat")
    (feed_uid,) = fetch(client, "/subcommittees/imip-late/calendar.ics").uids()
    with app.app_context():
        sub = db.session.scalar(select(Subcommittee).where(Subcommittee.slug == "imip-late"))
        membership = sub_operations.request_join(sub, db.session.merge(newcomer))
        sub_operations.decide(membership, db.session.merge(secretariat), approve=True)
        db.session.commit()
    (row,) = [r for r in outbox("subcommittee.session_scheduled") if r.recipients == [newcomer.email]]
    feed, event = invitation(row, "REQUEST")
    check_people(feed, newcomer.email)
    assert event.uid == feed_uid

    with app.app_context():
        sub = db.session.scalar(select(Subcommittee).where(Subcommittee.slug == "imip-late"))
        sub_operations.leave(sub, db.session.merge(newcomer))
        db.session.commit()
    (row,) = outbox("subcommittee.session_left")
    assert row.recipients == [newcomer.email]
    feed, event = invitation(row, "CANCEL")
    check_people(feed, newcomer.email)
    assert event.uid == feed_uid


def test_renumbering_a_session_keeps_its_uid(app, client, make_subcommittee):
    sub_id = make_subcommittee("imip-renum", fiscal_year=2031, sessions=[
        {"number": 4, "title": "第四回", "date": "2031-06-10", "start": "14:00", "end": "15:00"}])
    path = "/subcommittees/imip-renum/calendar.ics"
    (old_uid,) = fetch(client, path).uids()
    with app.app_context():
        sub = db.session.get(Subcommittee, sub_id)
        sub_operations.save_session(sub, _session(app, "imip-renum", 4), {"number": 5})
        db.session.flush()
        sub_operations.save_session(sub, None, {"number": 4, "title": "新しい第四回",
                                                "date_on": datetime(2031, 5, 20).date(), "precision": Precision.DAY})
        db.session.commit()
    feed = fetch(client, path)
    assert len(feed.uids()) == 2 and old_uid in feed.uids()
    # The old event is still the old session (its date), the new ④ is a new event.
    assert feed.events[old_uid].summary.endswith("第四回") and "⑤" in feed.events[old_uid].summary
    assert feed.events[old_uid].start[1] == datetime(2031, 6, 10, 14, 0)
    (new_uid,) = feed.uids() - {old_uid}
    assert "新しい第四回" in feed.events[new_uid].summary


def _start_of_a_second() -> None:
    """Wait until a second has just begun, so the next few steps fall within it."""
    while clock.time() % 1 > 0.3:
        clock.sleep(0.05)


@pytest.mark.parametrize("second_edit", ["same seminar", "another seminar"])
def test_two_changes_within_one_second_move_last_modified(app, client, make_seminar, second_edit):
    first = make_seminar("imip-lm-1")
    other = make_seminar("imip-lm-2", days=40)
    clock.sleep(1.1)  # the import is in an earlier second
    for _ in range(5):
        _start_of_a_second()
        began = int(clock.time())
        edit(app, first, title="一回目の変更")
        public = client.get("/calendar.ics")
        own = fetch(client, f"/seminars/{first}.ics")
        edit(app, first if second_edit == "same seminar" else other, title="二回目の変更")
        if int(clock.time()) == began:
            break
    else:
        pytest.skip("the machine is too slow to make two changes within one second")
    paths = {"/calendar.ics": public.headers}
    if second_edit == "same seminar":
        paths[f"/seminars/{first}.ics"] = own.headers
    for path, seen in paths.items():
        again = client.get(path, headers={"If-Modified-Since": seen["Last-Modified"]})
        assert again.status_code == 200, (path, "a changed feed answered 304 to If-Modified-Since")
        assert parsedate_to_datetime(again.headers["Last-Modified"]) > parsedate_to_datetime(seen["Last-Modified"])
        assert client.get(path, headers={"If-None-Match": seen["ETag"]}).status_code == 200
    if second_edit == "same seminar":
        (before,) = own.events.values()
        (after,) = fetch(client, f"/seminars/{first}.ics").events.values()
        assert after.summary.endswith("二回目の変更")
        assert after.last_modified > before.last_modified, "LAST-MODIFIED did not move"


def test_a_date_made_undecided_cancels_the_event_registrants_hold(app, client, create_user, outbox):
    seminar_id = future_seminar(app, "imip-undecided")
    member = create_user("member")
    logged_in(app, member).post(f"/seminars/{seminar_id}/registration")
    _, invited = invitation(outbox("registration.registered")[0], "REQUEST")

    edit(app, seminar_id, date_on=None, precision=Precision.UNDECIDED, starts_at=None, ends_at=None)
    (notice,) = outbox("seminar.rescheduled")
    feed, event = invitation(notice, "CANCEL")
    check_people(feed, member.email)
    assert (event.uid, event.status) == (invited.uid, "CANCELLED")
    assert event.sequence > invited.sequence
    assert fetch(client, f"/seminars/{seminar_id}.ics").uids() == set()  # the feed says drop it too
