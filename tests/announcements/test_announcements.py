"""開催案内: offered on publishing, previewed with the number of people it will mail, test-sent
to oneself, sent now (one outbox message per person, each with RFC 8058 one-click unsubscribe)
or at a set time by the send-reminders job; unsubscribing works from the mail and the account page."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from conftest import add_member, get_html, logged_in, register_accounts
from sqlalchemy import select

from portal.announcements.jobs import send_due_announcements
from portal.announcements.models import Announcement, AnnouncementState
from portal.core.dates import today_local
from portal.core.db import db, utcnow
from portal.mail.delivery import deliver_batch
from portal.seminars.models import Seminar

COMPOSE = "/secretariat/seminars/{}/announcement"


def compose(secretariat, sid: int, action: str, **fields: str):
    data = {"segment": "registrants", "subcommittee": "", "subject": "【案内】テストセミナー",
            "body": "ぜひご参加ください。", "send_day": "", "send_time": "", "expected": "", "action": action}
    data.update(fields)
    return secretariat.post(COMPOSE.format(sid), data)


def count_shown(response) -> int:
    match = re.search(r'data-count="(\d+)"', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return int(match.group(1))


@pytest.mark.parametrize("before", ["draft", "cancelled"])
def test_publishing_or_uncancelling_offers_the_announcement(app, create_user, make_seminar, before):
    sid = make_seminar("offer", status=before)
    secretariat = logged_in(app, create_user("secretariat", org=None))
    edit = get_html(secretariat.client, f"/secretariat/seminars/{sid}/edit")
    fields = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', edit))
    selected = dict(re.findall(r'<select[^>]*name="(\w+)".*?<option selected value="([^"]*)"', edit, re.S))
    data = {**fields, **selected, "status": "published"}
    data.pop("csrf_token", None)
    response = secretariat.post(f"/secretariat/seminars/{sid}/edit", data)
    assert response.status_code == 302 and response.headers["Location"].endswith(COMPOSE.format(sid))
    page = unescape(get_html(secretariat.client, COMPOSE.format(sid)))
    assert "開催案内：" in page and "テストセミナー offer" in page  # subject and body filled in


def test_preview_count_test_send_then_send_with_one_click_unsubscribe(app, create_user, make_seminar, outbox,
                                                                        smtp_server, make_app):
    sid = make_seminar("send")
    people = [create_user("member") for _ in range(3)]
    register_accounts(app, sid, *people)
    outsider = create_user("member")
    secretariat_user = create_user("secretariat", org=None)
    secretariat = logged_in(app, secretariat_user)

    preview = compose(secretariat, sid, "preview")
    assert preview.status_code == 200 and count_shown(preview) == 3
    assert "この内容で3人に送信します。" in preview.get_data(as_text=True)
    assert "/announcements/unsubscribe/" in preview.get_data(as_text=True)  # the preview shows the footer

    # A test send goes to the secretariat account only.
    assert compose(secretariat, sid, "test").status_code == 200
    (test,) = outbox("announcement.test")
    assert test.recipients == [secretariat_user.email] and test.subject.startswith("[テスト送信]")
    assert outbox("announcement") == []

    # Someone registers after the preview: the confirmed count (3) no longer holds, nothing is sent.
    register_accounts(app, sid, outsider)
    refused = compose(secretariat, sid, "send", expected="3")
    assert refused.status_code == 422 and outbox("announcement") == []
    assert count_shown(refused) == 4

    sent = compose(secretariat, sid, "send", expected="4")
    assert sent.status_code == 302
    mails = outbox("announcement")
    assert sorted(m.recipients[0] for m in mails) == sorted(u.email for u in [*people, outsider])
    for m in mails:
        link = re.search(r"(http\S+/announcements/unsubscribe/\S+)", m.body).group(1)
        assert m.headers == {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}

    # Over SMTP the headers are on the wire.
    with make_app(DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], **smtp_server.config()).app_context():
        deliver_batch()
    wire = [m for m in smtp_server.messages if "【案内】" in str(m["Subject"])]
    assert len(wire) >= 4 and all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in wire)

    # One click from the mail program: a POST without session or CSRF token.
    first = next(m for m in mails if m.recipients == [people[0].email])
    link = re.search(r"http\S+(/announcements/unsubscribe/\S+)", first.body).group(1)
    anonymous = app.test_client()
    assert anonymous.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 204
    assert count_shown(compose(secretariat, sid, "preview")) == 3  # no longer mailed
    assert anonymous.post(link[:-3] + "xyz", data={"List-Unsubscribe": "One-Click"}).status_code == 404

    # The account page shows it and can turn it back on.
    member = logged_in(app, people[0])
    assert 'id="announcements-subscribed" name="subscribed" value="y">' in get_html(member.client, "/account")
    assert member.post("/account/announcements", {"subscribed": "y"}).status_code == 302
    assert 'value="y" checked>' in get_html(member.client, "/account")
    assert count_shown(compose(secretariat, sid, "preview")) == 4


def test_segments_count_the_right_people(app, create_user, make_seminar, make_subcommittee):
    sid = make_seminar("segments", capacity=1)
    first, waiting, observer = create_user("member"), create_user("member"), create_user("observer")
    register_accounts(app, sid, first, waiting)
    sub = make_subcommittee("announce-sub")
    add_member(app, sub, observer)
    create_user("member", state="pending")  # not active: never mailed
    secretariat = logged_in(app, create_user("secretariat", org=None))
    assert count_shown(compose(secretariat, sid, "preview", segment="registrants")) == 1
    assert count_shown(compose(secretariat, sid, "preview", segment="waitlist")) == 1
    assert count_shown(compose(secretariat, sid, "preview", segment="all_members")) == 3
    assert count_shown(compose(secretariat, sid, "preview", segment="subcommittee", subcommittee=str(sub))) == 1


def test_a_scheduled_announcement_waits_for_its_time(app, create_user, make_seminar, outbox, runner):
    sid = make_seminar("later")
    people = [create_user("member") for _ in range(2)]
    register_accounts(app, sid, *people)
    secretariat = logged_in(app, create_user("secretariat", org=None))
    tomorrow = (today_local() + timedelta(days=1)).isoformat()
    preview = compose(secretariat, sid, "preview", send_day=tomorrow, send_time="9:30")
    assert "この内容で2人に予約送信します。" in preview.get_data(as_text=True)
    assert compose(secretariat, sid, "send", send_day=tomorrow, send_time="9:30", expected="2").status_code == 302
    assert outbox("announcement") == []
    result = runner.invoke(args=["portal", "send-reminders"])
    assert "0 scheduled announcement(s) sent" in result.output and outbox("announcement") == []
    with app.app_context():
        assert send_due_announcements(utcnow() + timedelta(days=2)) == 1
        assert send_due_announcements(utcnow() + timedelta(days=2)) == 0  # once
        row = db.session.scalar(select(Announcement))
        assert row.state is AnnouncementState.SENT and row.recipients == 2
        assert db.session.get(Seminar, sid) is not None
    assert len(outbox("announcement")) == 2
