"""Attendance (出席): the secretariat ticks 出席 per registered person or imports a webinar's
attendance report (CSV in UTF-8, with or without BOM, or Shift_JIS/cp932), sees 出席/欠席 counts,
exports them, and can then announce to the registrants who did not attend (no-shows).
A bad file changes nothing; both ways are audited in words."""

from __future__ import annotations

import csv
import io
import re
from datetime import time, timedelta

from conftest import get_html, logged_in, page_text, register_accounts
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.audit.queries import in_words
from portal.core.dates import local_datetime, today_local
from portal.core.db import db, utcnow
from portal.seminars.models import Registration, RegistrationState, Seminar

ATTENDANCE = "/secretariat/seminars/{}/attendance"
IMPORT = "/secretariat/seminars/{}/attendance/import"
COMPOSE = "/secretariat/seminars/{}/announcement"


# ----------------------------------------------------------------------------- helpers


def hold_it(app, sid: int, *, days_ago: int = 1, running: bool = False) -> None:
    """The seminar took place ``days_ago`` days ago (15:30–17:00 in Tokyo), or is running now."""
    with app.app_context():
        seminar = db.session.get(Seminar, sid)
        if running:
            now = utcnow()
            seminar.starts_at, seminar.ends_at = now - timedelta(minutes=30), now + timedelta(hours=1)
            seminar.date_on = today_local()
        else:
            day = today_local() - timedelta(days=days_ago)
            seminar.date_on = day
            seminar.starts_at, seminar.ends_at = local_datetime(day, time(15, 30)), local_datetime(day, time(17))
        db.session.commit()


def registration_ids(app, sid: int) -> dict[str, int]:
    """{email: registration id} of the seminar."""
    with app.app_context():
        rows = db.session.scalars(select(Registration).where(Registration.seminar_id == sid))
        return {r.user.email: r.id for r in rows}


def attended(app, sid: int) -> set[str]:
    """The e-mail addresses recorded as present."""
    with app.app_context():
        rows = db.session.scalars(select(Registration).where(
            Registration.seminar_id == sid, Registration.attended_at.is_not(None)))
        return {r.user.email for r in rows}


def recorded_at(app, sid: int):
    with app.app_context():
        return db.session.get(Seminar, sid).attendance_recorded_at


def audit(app, action: str) -> list[tuple[AuditEvent, list[str]]]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                         .order_by(AuditEvent.id)))
        return [(e, in_words(e)) for e in events]


def upload(secretariat, sid: int, data: bytes, name: str = "attendance.csv"):
    return secretariat.post(IMPORT.format(sid), {"file": (io.BytesIO(data), name)},
                            content_type="multipart/form-data")


def count_shown(response) -> int:
    match = re.search(r'data-count="(\d+)"', response.get_data(as_text=True))
    assert match, page_text(response.get_data(as_text=True))[:2000]
    return int(match.group(1))


def compose(secretariat, sid: int, action: str, **fields: str):
    data = {"segment": "no_shows", "subcommittee": "", "subject": "【資料のご案内】当日の録画",
            "body": "ご欠席の皆さまへ、当日の録画をお送りします。", "send_day": "", "send_time": "",
            "expected": "", "action": action}
    data.update(fields)
    return secretariat.post(COMPOSE.format(sid), data)


def people_at(app, create_user, make_seminar, key: str, n: int = 4, **fields):
    """A seminar with ``n`` registered members (and one waiting when it has capacity n)."""
    sid = make_seminar(key, **fields)
    people = [create_user("member", email=f"{key}-{i}@example.org", name=f"参加 {key}{i}") for i in range(n)]
    register_accounts(app, sid, *people)
    return sid, people


# ----------------------------------------------------------------------------- ticking 出席


def test_ticking_attendance_saves_exactly_the_ticked_shows_counts_exports_and_audits(app, create_user,
                                                                                   make_seminar):
    sid, people = people_at(app, create_user, make_seminar, "tick", capacity=3)
    waiting = people[3]  # capacity 3: the fourth waits, and has no 出席 box
    hold_it(app, sid)
    ids = registration_ids(app, sid)
    secretariat = logged_in(app, create_user("secretariat", org=None, name="事務局 花子"))

    page = get_html(secretariat.client, ATTENDANCE.format(sid))
    assert "まだ出席を記録していません。" in page_text(page)
    boxes = re.findall(r'name="attended" value="(\d+)"', page)
    assert sorted(map(int, boxes)) == sorted(ids[p.email] for p in people[:3])
    assert str(ids[waiting.email]) not in boxes
    assert "出席は未記録です。" in page_text(get_html(secretariat.client, f"/secretariat/seminars/{sid}"))

    def last_modified() -> list[str]:
        ics = secretariat.client.get(f"/seminars/{sid}.ics").get_data(as_text=True)
        return re.findall(r"^LAST-MODIFIED:.*$", ics, re.M)

    before = last_modified()
    ticked = [str(ids[people[0].email]), str(ids[people[2].email])]
    response = secretariat.post(ATTENDANCE.format(sid), {"attended": ticked})
    assert response.status_code == 302
    assert attended(app, sid) == {people[0].email, people[2].email}
    assert before and last_modified() == before  # attendance is no change to the calendar event
    page = get_html(secretariat.client, ATTENDANCE.format(sid))
    assert "出席を保存しました（出席 2名・欠席 1名）。" in page_text(page)
    assert len(re.findall(r'name="attended" value="\d+" id="attended-\d+" checked', page)) == 2
    manage = page_text(get_html(secretariat.client, f"/secretariat/seminars/{sid}"))
    assert "出席 2名・欠席 1名" in manage

    # The registrants CSV has a 出席 column: 出席/欠席 for the registered, blank for the waitlist.
    raw = secretariat.client.get(f"/secretariat/seminars/{sid}/registrants.csv").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    assert rows[0][-1] == "出席"
    by_email = {row[2]: row[-1] for row in rows[1:]}
    assert by_email == {people[0].email: "出席", people[1].email: "欠席", people[2].email: "出席",
                        waiting.email: ""}

    # Unticking one: exactly the ticked set is kept.
    assert secretariat.post(ATTENDANCE.format(sid), {"attended": [ticked[0]]}).status_code == 302
    assert attended(app, sid) == {people[0].email}

    (first, first_words), (_second, second_words) = audit(app, "attendance.recorded")
    assert first.subject == f"seminar:{sid}" and first.actor_id is not None
    assert "出席にした方: 参加 tick0、参加 tick2" in first_words
    assert "件数: 出席 2名・欠席 1名" in first_words
    assert "欠席にした方: 参加 tick2" in second_words
    log = page_text(get_html(secretariat.client, "/secretariat/audit"))
    assert "出席の記録" in log and "事務局 花子" in log


def test_attendance_of_a_running_seminar_can_be_ticked_but_not_before_it_starts(app, create_user, make_seminar):
    sid, people = people_at(app, create_user, make_seminar, "early", n=2)
    ids = registration_ids(app, sid)
    secretariat = logged_in(app, create_user("secretariat", org=None))

    page = page_text(get_html(secretariat.client, ATTENDANCE.format(sid)))
    assert "出席はセミナーの開始後に記録できます。" in page
    response = secretariat.post(ATTENDANCE.format(sid), {"attended": [str(ids[people[0].email])]},
                                follow_redirects=True)
    assert "出席はセミナーの開始後に記録できます。" in page_text(response.get_data(as_text=True))
    assert attended(app, sid) == set() and recorded_at(app, sid) is None
    assert upload(secretariat, sid, f"Email\n{people[0].email}\n".encode()).status_code == 422
    assert attended(app, sid) == set() and audit(app, "attendance.imported") == []

    hold_it(app, sid, running=True)  # during the seminar: allowed
    assert secretariat.post(ATTENDANCE.format(sid), {"attended": [str(ids[people[0].email])]}).status_code == 302
    assert attended(app, sid) == {people[0].email}


def test_ids_that_are_no_registrant_of_this_seminar_change_nothing(app, create_user, make_seminar):
    sid, people = people_at(app, create_user, make_seminar, "ids", n=2)
    other, others = people_at(app, create_user, make_seminar, "other-ids", n=1)
    hold_it(app, sid)
    secretariat = logged_in(app, create_user("secretariat", org=None))
    stranger = registration_ids(app, other)[others[0].email]
    mine = registration_ids(app, sid)[people[0].email]
    response = secretariat.post(ATTENDANCE.format(sid), {"attended": [str(mine), str(stranger)]},
                                follow_redirects=True)
    assert "参加登録者ではない方が含まれています。" in page_text(response.get_data(as_text=True))
    assert attended(app, sid) == set() and attended(app, other) == set() and recorded_at(app, sid) is None
    assert secretariat.post(ATTENDANCE.format(sid), {"attended": ["x1"]}).status_code == 400
    assert attended(app, sid) == set()


def test_an_id_out_of_range_is_404(app, create_user):
    secretariat = logged_in(app, create_user("secretariat", org=None))
    assert secretariat.client.get(ATTENDANCE.format(999999)).status_code == 404
    assert secretariat.post(ATTENDANCE.format(999999), {"attended": []}).status_code == 404
    assert upload(secretariat, 999999, b"Email\na@example.org\n").status_code == 404
    assert secretariat.client.get(ATTENDANCE.format(2**63)).status_code == 404


# ----------------------------------------------------------------------------- importing a report


def test_a_cp932_report_marks_registrants_by_address_in_any_case_and_lists_the_unknown(app, create_user,
                                                                                      make_seminar):
    sid, people = people_at(app, create_user, make_seminar, "cp932", n=3)
    hold_it(app, sid)
    secretariat = logged_in(app, create_user("secretariat", org=None))
    report = ("氏名,メールアドレス,参加時刻\r\n"
              f"参加 一郎,{people[0].email.upper()},2026/12/06 15:31\r\n"
              "部外 太郎,Outsider@Example.org,2026/12/06 15:40\r\n"
              f"参加 一郎,{people[0].email},2026/12/06 16:02\r\n"  # joined twice
              f"参加 三郎,{people[2].email},2026/12/06 15:33\r\n"
              "ゲスト,,2026/12/06 15:35\r\n").encode("cp932")
    response = upload(secretariat, sid, report, "出席レポート.csv")
    assert response.status_code == 200
    text = page_text(response.get_data(as_text=True))
    assert "2名を出席にしました。" in text
    assert "参加登録者ではないアドレス（1件、記録していません）: outsider@example.org" in text
    assert attended(app, sid) == {people[0].email, people[2].email}
    assert "出席 2名・欠席 1名" in text

    # A second report adds to the first; nobody is marked absent by it.
    again = upload(secretariat, sid, f"Email\n{people[1].email}\n{people[0].email}\n".encode())
    assert "1名を出席にしました。 1名はすでに出席でした。" in page_text(again.get_data(as_text=True))
    assert attended(app, sid) == {p.email for p in people}

    (first, words), _ = audit(app, "attendance.imported")
    assert first.subject == f"seminar:{sid}"
    assert "ファイル: 出席レポート.csv" in words and "出席にした方: 参加 cp9320、参加 cp9322" in words
    assert "件数: 一致 2名・登録者以外のアドレス 1件" in words


def test_a_zoom_report_with_bom_and_sections_counts_only_those_who_attended(app, create_user, make_seminar):
    sid, people = people_at(app, create_user, make_seminar, "zoom", n=3)
    hold_it(app, sid)
    secretariat = logged_in(app, create_user("secretariat", org=None))
    report = ("Attendee Report\n"
              "Report Generated:,\"12/06/2026 18:00 JST\"\n"
              "Topic,Webinar ID,Actual Start Time\n"
              "テストセミナー,123 456 789,\"Dec 6, 2026 15:25\"\n"
              "Host Details\n"
              "Attended,User Name (Original Name),Email,Join Time\n"
              "Yes,事務局,host@example.org,\"Dec 6, 2026 15:25\"\n"
              "Attendee Details\n"
              "Attended,User Name (Original Name),First Name,Last Name,Email,Registration Time\n"
              f"Yes,参加 一,一,参加,{people[0].email},\"Nov 30, 2026 10:00\"\n"
              f"No,参加 二,二,参加,{people[1].email},\"Nov 30, 2026 10:05\"\n"
              f"Yes,参加 三,三,参加,{people[2].email.title()},\"Nov 30, 2026 11:00\"\n")
    response = upload(secretariat, sid, "\ufeff".encode() + report.encode("utf-8"))
    assert response.status_code == 200, page_text(response.get_data(as_text=True))
    assert attended(app, sid) == {people[0].email, people[2].email}
    assert "host@example.org" in page_text(response.get_data(as_text=True))  # the host is no registrant


def test_a_teams_report_in_utf16_with_tabs_is_read(app, create_user, make_seminar):
    sid, people = people_at(app, create_user, make_seminar, "teams", n=2)
    hold_it(app, sid)
    secretariat = logged_in(app, create_user("secretariat", org=None))
    report = ("1. Summary\n"
              "Meeting title\tテストセミナー\n"
              "\n2. Participants\n"
              "Name\tFirst Join\tLast Leave\tIn-Meeting Duration\tEmail\tParticipant ID (UPN)\tRole\n"
              f"参加 一\t12/6/26, 3:30:00 PM\t12/6/26, 5:00:00 PM\t1h 30m\t{people[1].email}\t{people[1].email}\t"
              "Attendee\n")
    assert upload(secretariat, sid, report.encode("utf-16")).status_code == 200
    assert attended(app, sid) == {people[1].email}


def test_a_bad_file_changes_nothing_and_says_why(app, create_user, make_seminar):
    sid, people = people_at(app, create_user, make_seminar, "bad", n=2)
    hold_it(app, sid)
    secretariat = logged_in(app, create_user("secretariat", org=None))
    good = people[0].email
    cases = {
        # the first row is fine, the second is no address: the first is not kept either
        f"Email\n{good}\nnot-an-address\n".encode(): "3行目：メールアドレスの列に「not-an-address」とあります。",
        f"Name,Joined\n参加 一,{good}\n".encode("cp932"):
            "メールアドレスの列（Email・メールアドレス）が見つかりません。",
        b"\x82\xa0\xff\xfe\x80\x81 Email\n": "ファイルの文字コードを読み取れません",
        b"": "ファイルが空です。",
        b"Email\nsomeone@elsewhere.example\n": "このセミナーの参加登録者は一人もいません。",
        b"Email\n\n": "出席者の行がありません。",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n": "メールアドレスの列（Email・メールアドレス）が見つかりません。",
    }
    for data, message in cases.items():
        response = upload(secretariat, sid, data)
        assert response.status_code == 422, (data, page_text(response.get_data(as_text=True)))
        text = page_text(response.get_data(as_text=True))
        assert message in text, (message, text)
        assert attended(app, sid) == set() and recorded_at(app, sid) is None
    assert audit(app, "attendance.imported") == []


# ----------------------------------------------------------------------------- the no-shows segment


def test_the_no_shows_segment_is_offered_only_after_the_seminar_with_attendance_recorded(app, create_user,
                                                                                        make_seminar):
    sid, people = people_at(app, create_user, make_seminar, "offer", n=2)
    secretariat = logged_in(app, create_user("secretariat", org=None))
    why = "「参加登録したが欠席した方」は、セミナーの終了後に出席を記録すると選べます。"

    page = get_html(secretariat.client, COMPOSE.format(sid))
    assert 'value="no_shows"' not in page and why in page_text(page)
    refused = compose(secretariat, sid, "preview")
    assert refused.status_code == 422 and why in page_text(refused.get_data(as_text=True))
    assert 'data-count=' not in refused.get_data(as_text=True)

    hold_it(app, sid)  # over, but attendance not recorded yet
    assert compose(secretariat, sid, "preview").status_code == 422
    assert compose(secretariat, sid, "send", expected="2").status_code == 422

    ids = registration_ids(app, sid)
    secretariat.post(ATTENDANCE.format(sid), {"attended": [str(ids[people[0].email])]})
    page = get_html(secretariat.client, COMPOSE.format(sid))
    assert 'value="no_shows"' in page and why not in page_text(page)
    assert "参加登録したが欠席した方" in page_text(page)


def test_an_announcement_to_no_shows_reaches_exactly_them(app, create_user, make_seminar, outbox):
    sid, people = people_at(app, create_user, make_seminar, "noshow", n=7, capacity=5)
    # people[4] cancels (people[5] moves up from the waitlist), people[6] still waits.
    with app.app_context():
        from portal.accounts.models import User
        from portal.seminars import registrations

        registrations.cancel(sid, db.session.get(User, people[4].id))
        db.session.commit()
    hold_it(app, sid)
    ids = registration_ids(app, sid)
    secretariat = logged_in(app, create_user("secretariat", org=None))
    # people[0] and people[2] attended (ticked), people[1] through the report; 3 and 5 did not come.
    secretariat.post(ATTENDANCE.format(sid), {"attended": [str(ids[people[0].email]), str(ids[people[2].email])]})
    assert upload(secretariat, sid, f"Email\n{people[1].email}\n".encode()).status_code == 200
    with app.app_context():
        states = dict(db.session.execute(select(Registration.id, Registration.state)).all())
    assert states[ids[people[4].email]] is RegistrationState.CANCELLED
    assert states[ids[people[5].email]] is RegistrationState.REGISTERED
    assert states[ids[people[6].email]] is RegistrationState.WAITING

    preview = compose(secretariat, sid, "preview")
    assert preview.status_code == 200 and count_shown(preview) == 2
    assert "この内容で2人に送信します。" in page_text(preview.get_data(as_text=True))
    assert compose(secretariat, sid, "send", expected="2").status_code == 302
    mails = outbox("announcement")
    assert sorted(m.recipients[0] for m in mails) == sorted([people[3].email, people[5].email])
    assert all(len(m.recipients) == 1 and m.subject == "【資料のご案内】当日の録画" for m in mails)
    history = page_text(get_html(secretariat.client, COMPOSE.format(sid)))
    assert "参加登録したが欠席した方" in history
    ((event, _words),) = audit(app, "announcement.sent")
    assert event.details["segment"] == "no_shows" and event.details["recipients"] == 2


def test_no_shows_in_english(app, create_user, make_seminar):
    sid, _people = people_at(app, create_user, make_seminar, "english", n=1)
    hold_it(app, sid)
    secretariat = logged_in(app, create_user("secretariat", org=None))
    secretariat.post(ATTENDANCE.format(sid), {"attended": []})
    secretariat.client.get("/language/en")
    page = page_text(get_html(secretariat.client, COMPOSE.format(sid)))
    assert "Registered but did not attend" in page
    attendance_page = page_text(get_html(secretariat.client, ATTENDANCE.format(sid)))
    assert "Record attendance" in attendance_page and "Present 0, absent 1" in attendance_page
