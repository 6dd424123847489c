"""What calendar apps show: names as written in ical.js (Thunderbird's parser, run by Node), RFC
7986 calendar properties on every feed, reminders chosen on /account, and the seminar page's
"add to calendar" links (Google, Outlook, a registered member's .ics with the join link)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
from conftest import csrf_token, logged_in
from test_calendar import fetch, future_seminar, load, parse, seminar_ids

from portal.core.db import db
from portal.subcommittees import operations as sub_operations
from portal.subcommittees.models import Subcommittee

ROOT = Path(__file__).resolve().parents[2]
READER = Path(__file__).with_name("read_with_icaljs.cjs")
NAME = "相互運用テスト, 系列; 2027"  # the name: a comma, a semicolon
SUB = "防災, 減災; 分科会"


def icaljs(raw: bytes) -> dict:
    """The calendar as ical.js reads it (installed by ``make test`` from package.json)."""
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ical.js").is_dir():
        pytest.skip("ical.js is not installed (make test runs npm install)")
    done = subprocess.run(["node", str(READER)], input=raw, capture_output=True, cwd=ROOT, timeout=60, check=True)
    return json.loads(done.stdout)


def names_data() -> dict:
    return {
        "seminars": [{"key": "names-1", "series": NAME, "fiscal_year": 2027, "number": 1, "title": "名前, 表示; テスト",
                      "date": "2027-08-03", "start": "15:30", "end": "17:00", "status": "published"}],
        "subcommittees": [{"slug": "names-sub", "name": SUB, "fiscal_year": 2027,
                           "sessions": [{"number": 1, "title": "第一回", "date": "2027-09-14"}],
                           "milestones": [{"title": "立上げ", "due": "2027-09-30"}]}],
    }


def feeds_of(app, create_user) -> dict[str, str]:
    load(app, names_data())
    member = create_user("member")
    seminar_id = seminar_ids(app)["names-1"]
    return {
        "/calendar.ics": "官民連携プラットフォーム セミナー・分科会",
        f"/seminars/{seminar_id}.ics": f"{NAME} 第1回",
        "/subcommittees/names-sub/calendar.ics": SUB,
        f"/calendar/{member.calendar_token}.ics": f"官民連携プラットフォーム（{member.name}）",
    }


def test_every_feed_says_what_it_is_rfc7986(app, client, create_user):
    for path, name in feeds_of(app, create_user).items():
        feed = fetch(client, path)
        cal = icalendar.Calendar.from_ical(feed.raw)
        # RFC 7986 NAME is TEXT: escaped as TEXT must be.
        assert "NAME:" + name.replace(",", "\\,").replace(";", "\\;") in feed.text.split("\r\n"), path
        assert str(cal["DESCRIPTION"]), path
        assert str(cal["SOURCE"]) == f"http://portal.test{path}", path
        assert cal["REFRESH-INTERVAL"].params.get("VALUE") == "DURATION"
        assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in feed.text


def test_names_and_categories_show_as_written_in_icaljs(app, client, create_user):
    for path, name in feeds_of(app, create_user).items():
        shown = icaljs(client.get(path).data)
        assert shown["props"]["x-wr-calname"] == name, (path, "Thunderbird shows the calendar's name so")
        # NAME is RFC 7986 TEXT, escaped as TEXT must be (ical.js does not know it: read raw).
        assert shown["props"]["name"].replace("\\,", ",").replace("\\;", ";") == name
        assert shown["props"]["source"] == f"http://portal.test{path}"
        for event in shown["events"]:
            # One category each, commas and semicolons kept: never split on an escaped comma.
            assert event["categories"] in ([NAME], [SUB], []), (path, event["categories"])
            assert "\\" not in event["summary"] + (event["description"] or "")
    public = icaljs(client.get("/calendar.ics").data)
    seminar = next(e for e in public["events"] if e["summary"].startswith("第1回"))
    assert seminar["summary"] == "第1回 名前, 表示; テスト"


def test_an_invitation_reads_the_same_in_icaljs(app, create_user, outbox):
    seminar_id = future_seminar(app, "names-mail")
    member = create_user("member", name="山田, 太郎; 様")
    logged_in(app, member).post(f"/seminars/{seminar_id}/registration")
    (row,) = outbox("registration.registered")
    data = row.attachments[0]["data"].encode("utf-8")
    shown = icaljs(data)
    assert shown["props"]["method"] == "REQUEST"
    (event,) = shown["events"]
    assert event["organizer"] == {"value": "mailto:secretariat-box@example.org", "cn": "官民連携プラットフォーム事務局"}
    assert event["attendee"] == {"value": f"mailto:{member.email}", "cn": "山田, 太郎; 様", "partstat": "ACCEPTED"}
    assert event["uid"] == next(iter(parse(data, "REQUEST").uids()))


def test_reminders_chosen_on_the_account_page(app, client, create_user):
    seminar_id = future_seminar(app, "names-alarm")
    member = create_user("member")
    auth = logged_in(app, member)
    auth.post(f"/seminars/{seminar_id}/registration")
    path = f"/calendar/{member.calendar_token}.ics"
    before = fetch(client, path)
    assert "BEGIN:VALARM" not in before.text

    page = auth.client.get("/account").get_data(as_text=True)
    assert 'name="alarms" type="checkbox" value="P1D"' in page or 'value="P1D"' in page
    response = auth.client.post("/account/calendar-reminders", data={
        "alarms": ["P1D", "PT30M"], "csrf_token": csrf_token(auth.client, "/account")})
    assert response.status_code == 302
    boxes = re.findall(r"<input[^>]*>", auth.client.get("/account").get_data(as_text=True))
    assert sorted(re.search(r'value="([^"]+)"', b).group(1) for b in boxes if "checked" in b and "alarms" in b) == [
        "P1D", "PT30M"]
    # The feed changed: neither validator says 304.
    assert client.get(path, headers={"If-None-Match": before.headers["ETag"]}).status_code == 200
    assert client.get(path, headers={"If-Modified-Since": before.headers["Last-Modified"]}).status_code == 200
    after = fetch(client, path)
    cal = icalendar.Calendar.from_ical(after.raw)
    (event,) = list(cal.walk("VEVENT"))
    triggers = sorted(str(alarm["TRIGGER"].to_ical(), "ascii") for alarm in event.walk("VALARM"))
    assert triggers == ["-P1D", "-PT30M"]
    if shutil.which("node") and (ROOT / "node_modules" / "ical.js").is_dir():
        assert sorted(icaljs(after.raw)["events"][0]["alarms"]) == ["-P1D", "-PT30M"]
    # The public feeds never carry someone's reminders.
    assert "VALARM" not in fetch(client, f"/seminars/{seminar_id}.ics").text

    # A forged choice is refused, and none is kept.
    bad = auth.client.post("/account/calendar-reminders", data={
        "alarms": ["PT1S"], "csrf_token": csrf_token(auth.client, "/account")})
    assert bad.status_code == 400
    auth.client.post("/account/calendar-reminders", data={"csrf_token": csrf_token(auth.client, "/account")})
    assert "VALARM" not in fetch(client, path).text


def test_seminar_page_links(app, client, create_user):
    seminar_id = future_seminar(app, "names-links")
    page = client.get(f"/seminars/{seminar_id}").get_data(as_text=True)
    assert "Outlook に追加" in page
    outlook = _href(page, "add-outlook")
    assert urlsplit(outlook).netloc == "outlook.office.com"
    query = parse_qs(urlsplit(outlook).query)
    assert query["subject"] == ["第7回 参加登録テスト names-links"]
    assert query["startdt"][0].endswith("T15:30:00+09:00")
    assert urlsplit(_href(page, "add-outlook-live")).netloc == "outlook.live.com"
    for link in (outlook, _href(page, "add-google")):
        assert "webinar" not in link, "a visitor's links never carry the join link"
    assert f"/seminars/{seminar_id}/my-calendar.ics" not in page
    assert client.get(f"/seminars/{seminar_id}/my-calendar.ics").status_code == 302  # log in first

    member, waiting = create_user("member"), create_user("member")
    auth = logged_in(app, member)
    auth.post(f"/seminars/{seminar_id}/registration")
    page = auth.client.get(f"/seminars/{seminar_id}").get_data(as_text=True)
    for cls in ("add-outlook", "add-google", "add-outlook-live"):
        assert "https://example.org/webinar/names-links" in parse_qs(urlsplit(_href(page, cls)).query)[
            "body" if "outlook" in cls else "details"][0]
    download = auth.client.get(f"/seminars/{seminar_id}/my-calendar.ics")
    assert download.status_code == 200
    assert download.headers["Cache-Control"] == "private, no-store"
    (event,) = icalendar.Calendar.from_ical(download.data).walk("VEVENT")
    assert "https://example.org/webinar/names-links" in str(event["DESCRIPTION"])
    assert {str(event["UID"])} == fetch(client, f"/seminars/{seminar_id}.ics").uids()
    assert "METHOD" not in download.get_data(as_text=True)

    # Not registered (or only waiting): no join link by this door either.
    assert logged_in(app, waiting).client.get(f"/seminars/{seminar_id}/my-calendar.ics").status_code == 403


def _href(html: str, cls: str) -> str:
    import html as html_lib
    import re

    match = re.search(r'<a href="([^"]+)"[^>]*class="' + cls + '"', html)
    assert match, cls
    return html_lib.unescape(match.group(1))


def test_moved_seminar_description_has_the_current_program(app, client):
    """DESCRIPTION is built from the program as stored now (the program moves with the seminar
    elsewhere): a changed item time shows at once in every feed."""
    seminar_id = future_seminar(app, "names-program")
    from portal.seminars.models import Seminar

    with app.app_context():
        seminar = db.session.get(Seminar, seminar_id)
        item = seminar.program[0]
        from datetime import time

        from portal.seminars.operations import save_program_item
        save_program_item(seminar, item, start_time=time(15, 40), title=item.title, points=list(item.points or []),
                          notes=[], presenters=[])
        db.session.commit()
    (event,) = fetch(client, f"/seminars/{seminar_id}.ics").events.values()
    assert "15:40～ イントロダクション" in event.description
    assert "15:30～ イントロダクション" not in event.description


def test_migration_keeps_the_uids_subscribers_hold(tmp_path):
    """0009 gives existing sessions and milestones the UIDs they had (made from the slug and
    number, and the id), and marks seminars in the feeds as public."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'migrate.sqlite'}"
    engine = create_engine(url)

    def flask(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=120,
                              env={"DATABASE_URL": url, "SECRET_KEY": "migration-test", "PATH": "/usr/bin:/bin"})
        assert done.returncode == 0, done.stderr

    flask("db", "upgrade", "0007")
    stamp = "'2021-01-01 00:00:00.000000'"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO subcommittees (id, slug, name, fiscal_year, status, issues, outcomes, fields, "
                          f"created_at, updated_at) VALUES (1, 'old-sub', 'x', 2021, 'active', '[]', '[]', '[]', "
                          f"{stamp}, {stamp})"))
        conn.execute(text("INSERT INTO subcommittee_sessions (id, subcommittee_id, number, title, precision, status, "
                          f"sequence, created_at, updated_at) VALUES (5, 1, 4, 't', 'undecided', 'scheduled', 0, "
                          f"{stamp}, {stamp})"))
        conn.execute(text("INSERT INTO milestones (id, subcommittee_id, position, title, due_on, sequence, "
                          f"created_at, updated_at) VALUES (9, 1, 0, 'm', '2021-09-30', 0, {stamp}, {stamp})"))
    flask("db", "upgrade")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT uid FROM subcommittee_sessions")).scalar() == \
            "session-old-sub-4@smartcity-ppp-portal"
        assert conn.execute(text("SELECT uid FROM milestones")).scalar() == "milestone-9@smartcity-ppp-portal"
    engine.dispose()


def test_new_sessions_get_uids_no_edit_touches(app, make_subcommittee):
    sub_id = make_subcommittee("names-uid")
    with app.app_context():
        sub = db.session.get(Subcommittee, sub_id)
        session = sub_operations.save_session(sub, None, {"number": 1, "title": "t"})
        db.session.flush()
        uid = session.uid
        sub_operations.save_session(sub, session, {"number": 2, "title": "u"})
        db.session.commit()
        assert session.uid == uid and "names-uid" not in uid and "-1@" not in uid
