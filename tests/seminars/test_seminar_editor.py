"""The secretariat's day without a browser: dates typed as people type them and what they were
understood as, presenter rows that work without JavaScript, Q&A states that tell the truth, the
audit log in words, and the public date style in the back office."""

from __future__ import annotations

import re
from datetime import date, time

from conftest import logged_in, page_text
from sqlalchemy import select

from portal.core.db import db
from portal.seminars.models import ProgramItem, Seminar


def staff(app, create_user):
    return logged_in(app, create_user("secretariat", org=None, name="事務局 確認"))


def series_id(app, seminar_id: int) -> int:
    with app.app_context():
        return db.session.get(Seminar, seminar_id).series_id


def test_dates_and_times_typed_many_ways_and_said_back(app, create_user, make_seminar):
    sid = make_seminar("typed-source", day=date(2027, 1, 12))
    auth = staff(app, create_user)
    form = {"series_id": str(series_id(app, sid)), "title": "入力テスト", "precision": "day",
            "date": "２０２７／３／９", "start": "１５時３０分", "end": "17時", "status": "draft"}
    # Another field refused: the page says what the date and time were understood as.
    refused = auth.post("/secretariat/seminars/new", {**form, "capacity": "0"})
    assert refused.status_code == 422
    text = page_text(refused.get_data(as_text=True))
    assert "2027年3月9日（火） として受け付けました。" in text and "15:30 として受け付けました。" in text
    # Accepted: stored as typed, and said plainly.
    response = auth.post("/secretariat/seminars/new", form, follow_redirects=True)
    said = page_text(response.get_data(as_text=True))
    assert "日時を「2027年3月9日（火） 15:30～17:00」として受け付けました。" in said
    with app.app_context():
        seminar = db.session.scalar(select(Seminar).where(Seminar.title == "入力テスト"))
        assert (seminar.date_on, seminar.start_time, seminar.end_time) == (date(2027, 3, 9), time(15, 30), time(17, 0))
    # A date nobody can read is refused with the formats that work.
    bad = auth.post("/secretariat/seminars/new", {**form, "date": "3/9/2027"})
    assert bad.status_code == 422 and "YYYY/M/D" in page_text(bad.get_data(as_text=True))


def test_presenter_rows_change_without_javascript_and_nothing_is_saved(app, create_user, make_seminar):
    sid = make_seminar("rows", day=date(2027, 1, 12), program=[
        {"start": "15:30", "title": "取組紹介",
         "presenters": [{"organization": "前橋市"}, {"organization": "浜松市"}]}])
    auth = staff(app, create_user)
    with app.app_context():
        item_id = db.session.scalars(select(ProgramItem.id).where(ProgramItem.seminar_id == sid)).one()
    rows = {"start_time": "15:30", "title": "取組紹介", "points": "", "notes": "",
            "presenters-0-organization": "前橋市", "presenters-0-honorific": "様",
            "presenters-1-organization": "浜松市", "presenters-1-honorific": "様"}
    moved = auth.post(f"/secretariat/program/{item_id}/edit", {**rows, "row": "up-1"})
    assert moved.status_code == 200
    html = moved.get_data(as_text=True)
    assert html.index('value="浜松市"') < html.index('value="前橋市"')
    added = auth.post(f"/secretariat/program/{item_id}/edit", {**rows, "row": "add"}).get_data(as_text=True)
    assert 'id="presenters-2-organization"' in added
    assert re.search(r'<input[^>]*id="presenters-2-honorific"[^>]*value="様"', added)
    removed = auth.post(f"/secretariat/program/{item_id}/edit", {**rows, "row": "remove-0"}).get_data(as_text=True)
    assert 'value="前橋市"' not in removed and 'id="presenters-1-organization"' not in removed
    assert auth.post(f"/secretariat/program/{item_id}/edit", {**rows, "row": "sideways-9"}).status_code == 400
    with app.app_context():  # none of that was saved
        assert [p.organization for p in db.session.get(ProgramItem, item_id).presenters] == ["前橋市", "浜松市"]


def test_qa_state_is_not_started_open_then_closed(app, create_user, make_seminar):
    sid = make_seminar("qa-states", day=date(2027, 1, 12))
    auth = staff(app, create_user)

    def qa_state() -> str:
        html = auth.client.get(f"/secretariat/seminars/{sid}").get_data(as_text=True)
        return re.search(r'class="qa-state">([^<]*)<', html).group(1)

    assert qa_state() == "未開始"
    auth.post(f"/secretariat/seminars/{sid}/qa/open")
    assert qa_state() == "受付中"
    auth.post(f"/secretariat/seminars/{sid}/qa/close")
    assert qa_state() == "終了"


def test_audit_log_says_changes_in_words_and_back_office_dates_in_the_public_style(app, create_user, make_seminar):
    sid = make_seminar("audited", day=date(2027, 1, 12), title="監査前のテーマ")
    auth = staff(app, create_user)
    form = {"series_id": str(series_id(app, sid)), "title": "監査後のテーマ", "precision": "day",
            "date": "2027-01-12", "start": "15:30", "end": "17:00", "status": "published", "registration_open": "y",
            "join_url": "https://example.org/webinar/audited"}
    assert auth.post(f"/secretariat/seminars/{sid}/edit", form).status_code == 302
    html = auth.client.get("/secretariat/audit").get_data(as_text=True)
    row = next(r for r in html.split("<tr") if 'data-action="seminar.updated"' in r)
    assert "セミナーの変更" in row and "テーマ: 監査前のテーマ → 監査後のテーマ" in page_text(row)
    assert "{" not in page_text(row)  # no raw JSON
    # Times in the back office as on the public pages: 2026年12月7日（月） 13:48, never 2026-12-07 13:48.
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日（.）\s*\d{1,2}:\d{2}", page_text(html))
    assert not re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", page_text(html))


def test_uploads_and_deletions_are_audited(app, create_user, make_seminar):
    sid = make_seminar("audited-files", day=date(2027, 1, 12))
    auth = staff(app, create_user)
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    from io import BytesIO

    auth.post(f"/secretariat/seminars/{sid}/materials", {"title": "当日資料", "program_item_id": "0",
                                                          "file": (BytesIO(pdf), "slides.pdf")},
              content_type="multipart/form-data")
    from portal.materials.models import Material

    with app.app_context():
        material_id = db.session.scalars(select(Material.id).where(Material.seminar_id == sid)).one()
    assert auth.client.get(f"/secretariat/materials/{material_id}/delete").status_code == 200  # asks first
    auth.post(f"/secretariat/materials/{material_id}/delete")
    text = page_text(auth.client.get("/secretariat/audit").get_data(as_text=True))
    assert "資料のアップロード" in text and "資料の削除" in text and "資料: 当日資料" in text


def test_a_running_seminar_says_so_and_gives_the_registered_a_join_button(app, create_user, make_seminar):
    from datetime import timedelta

    from conftest import register_accounts

    from portal.core.db import utcnow

    sid = make_seminar("running", day=date(2027, 1, 12), join_url="https://example.org/webinar/running")
    member = create_user("member")
    register_accounts(app, sid, member)
    auth = logged_in(app, member)
    before = auth.client.get(f"/seminars/{sid}").get_data(as_text=True)
    assert "開催中" not in page_text(before) and "join-button" not in before
    with app.app_context():
        seminar = db.session.get(Seminar, sid)
        seminar.starts_at, seminar.ends_at = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1)
        db.session.commit()
    during = auth.client.get(f"/seminars/{sid}").get_data(as_text=True)
    assert "開催中" in page_text(during) and "受付中" not in page_text(during)
    join = r'<a class="button join-button" href="https://example.org/webinar/running"[^>]*>参加する</a>'
    assert re.search(join, during)
    visitor = app.test_client().get(f"/seminars/{sid}").get_data(as_text=True)
    assert "開催中" in page_text(visitor) and "join-button" not in visitor  # the link stays the registered's


def test_adding_a_row_to_a_new_item_keeps_its_form_open_and_adds_nothing(app, create_user, make_seminar):
    sid = make_seminar("rows-new", day=date(2027, 1, 12))
    auth = staff(app, create_user)
    page = auth.post(f"/secretariat/seminars/{sid}/program", {
        "start_time": "15:40", "title": "新しい項目", "points": "", "notes": "", "row": "add",
        "presenters-0-organization": "岡崎市", "presenters-0-honorific": "様"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'<details id="program-add"\s+open>', html)
    assert 'value="岡崎市"' in html and 'id="presenters-1-organization"' in html and 'value="新しい項目"' in html
    with app.app_context():
        assert db.session.get(Seminar, sid).program == []
