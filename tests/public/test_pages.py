"""Public pages, the JSON API and the health check, through the test client on a real database.

Most tests load the demo (the seed's FY2021 schedule, program and Net-Zero subcommittee, plus the
upcoming demo seminar); the rest build their data with the import service.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import get_html, logged_in, page_text
from sqlalchemy import select

from portal.core.dates import fiscal_year, today_local
from portal.core.db import db
from portal.imports.operations import import_data
from portal.seminars.models import Registration, RegistrationState, Seminar

SERIES = "官民連携プラットフォーム オンラインセミナー"
FY2021_1_TITLE = "前橋市・浜松市・岡崎市による取組紹介・意見交換"
FY2021_2_TITLE = "中山間地での取組や都市OSを導入した地域の取組紹介・意見交換"
UPCOMING_TITLE = "【デモ】データ連携基盤（都市OS）の導入・運用に関する取組紹介・意見交換"
JOIN_URL = "https://example.org/webinar/fy2021-1"
NOTICE = "時期や内容等は変更となる可能性があります"
NET_ZERO = "ネット・ゼロ スマートシティ検討分科会"
NET_ZERO_PURPOSE = (
    "政府が掲げる「2050年までに温室効果ガスの排出量を実質ゼロ(ネット・ゼロ)とする」目標の下、"
    "スマートシティの取り組みにより地域のネット・ゼロの実現を加速させる"
)
NET_ZERO_ISSUES = (
    "地域においてネット・ゼロを実現するために検討すべきこと、およびスマートシティの取り組みが貢献する事項の明確化",
    "2050年ネットゼロに向けた地域の取り組みの方向性と短中期の施策整理",
    "地域におけるネット・ゼロ実現に向けた産学官それぞれの役割分担",
)
NET_ZERO_SESSIONS = (
    "① ネット・ゼロ×スマートシティへの理解",
    "② ネット・ゼロスマートシティの実現に向けた現在/将来のアクション",
    "③ ネット・ゼロスマートシティの評価",
    "④ 達成に向けたロードマップ",
)
CONTACT_EMAILS = ("ichiro.sato@example.org", "hanako.suzuki@example.org", "ken.takahashi@example.org")
CONTACT_NAMES = ("佐藤 一郎", "鈴木 花子", "高橋 健")
API_FIELDS = {"id", "key", "title", "number", "fiscal_year", "start", "end", "date_label", "status", "url", "ics_url"}


# ----------------------------------------------------------------------------- helpers


class _Tables(HTMLParser):
    """Every table as a list of rows, each a list of cell texts (whitespace collapsed)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict[str, Any]] = []
        self._row: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append({"class": dict(attrs).get("class") or "", "rows": []})
        elif tag == "tr" and self.tables:
            self._row = []
            self.tables[-1]["rows"].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._row.append(self._cell)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return [
        [[" ".join("".join(cell).split()) for cell in row] for row in table["rows"]]
        for table in parser.tables
    ]


def load(app, data: dict[str, Any]) -> None:
    with app.app_context():
        import_data(data)
        db.session.commit()


def seminar_ids(app) -> dict[str, int]:
    with app.app_context():
        return {s.key: s.id for s in db.session.scalars(select(Seminar))}


def seminar_fiscal_year(app, key: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Seminar).where(Seminar.key == key)).fiscal_year


def register(app, seminar_id: int, user_id: int, state: RegistrationState) -> None:
    with app.app_context():
        db.session.add(Registration(seminar_id=seminar_id, user_id=user_id, state=state))
        db.session.commit()



def exact(key: str, fy_day: date, title: str, **extra: Any) -> dict[str, Any]:
    """An import record for a published seminar with an exact day and times."""
    return {
        "key": key, "series": SERIES, "fiscal_year": fiscal_year(fy_day), "number": 1, "title": title,
        "date": fy_day.isoformat(), "start": "15:30", "end": "17:00", "status": "published", **extra,
    }


# ----------------------------------------------------------------------------- home


def test_home_lists_the_upcoming_seminar_and_the_subcommittee(app, client, demo):
    ids = seminar_ids(app)
    html = get_html(client, "/")
    text = page_text(html)
    assert UPCOMING_TITLE in text
    assert f'href="/seminars/{ids["demo-upcoming"]}"' in html
    assert NET_ZERO in text
    assert 'href="/subcommittees/net-zero"' in html
    # Next seminars only: the FY2021 series is long past.
    assert FY2021_1_TITLE not in text


# ----------------------------------------------------------------------------- annual schedule


def test_schedule_2021_reproduces_the_seed(app, client, demo):
    html = get_html(client, "/seminars?fy=2021")
    schedule = next(t for t in tables(html) if t and t[0][:2] == ["回数", "時期"])
    header, *rows = schedule
    assert header[2].startswith("内容")
    assert len(rows) == 3
    assert rows[0][:2] == ["1回目", "8月3日（火） 15:30～"]
    assert FY2021_1_TITLE in rows[0][2]
    assert rows[1][:2] == ["2回目", "10月上旬"]
    assert FY2021_2_TITLE in rows[1][2]
    assert rows[2][:2] == ["3回目", "12月上旬"]
    assert NOTICE in page_text(html)
    # The upcoming demo seminar belongs to another year, reached by a link.
    assert UPCOMING_TITLE not in page_text(html)
    other = seminar_fiscal_year(app, "demo-upcoming")
    assert other != 2021
    assert f'href="/seminars?fy={other}"' in html
    assert 'href="/seminars?fy=2021"' not in html  # the year shown is not a link to itself
    ids = seminar_ids(app)
    for key in ("fy2021-1", "fy2021-2", "fy2021-3"):
        assert f'href="/seminars/{ids[key]}"' in html


def test_schedule_of_the_other_year_links_back_to_2021(app, client, demo):
    other = seminar_fiscal_year(app, "demo-upcoming")
    html = get_html(client, f"/seminars?fy={other}")
    assert UPCOMING_TITLE in page_text(html)
    assert FY2021_1_TITLE not in page_text(html)
    assert 'href="/seminars?fy=2021"' in html


def test_schedule_defaults_to_the_current_fiscal_year_when_it_has_seminars(app, client):
    current = fiscal_year(today_local())
    load(app, {"seminars": [
        exact("past", date(current - 3, 6, 1), "三年前のセミナー"),
        exact("now", date(current, 4, 1) + timedelta(days=200), "今年度のセミナー"),
        exact("future", date(current + 2, 6, 1), "二年後のセミナー"),
    ]})
    text = page_text(get_html(client, "/seminars"))
    assert "今年度のセミナー" in text
    assert "三年前のセミナー" not in text
    assert "二年後のセミナー" not in text


def test_schedule_defaults_to_the_latest_year_when_the_current_has_none(app, client):
    current = fiscal_year(today_local())
    load(app, {"seminars": [
        exact("older", date(current - 5, 6, 1), "五年前のセミナー"),
        exact("latest", date(current - 3, 6, 1), "三年前のセミナー"),
    ]})
    html = get_html(client, "/seminars")
    text = page_text(html)
    assert "三年前のセミナー" in text
    assert "五年前のセミナー" not in text
    assert f'href="/seminars?fy={current - 5}"' in html


def test_schedule_without_anything_tentative_has_no_notice(app, client):
    load(app, {"seminars": [
        exact("firm-1", date(2030, 6, 4), "確定したセミナー1"),
        {**exact("firm-2", date(2030, 8, 6), "確定したセミナー2"), "number": 2},
    ]})
    html = get_html(client, "/seminars?fy=2030")
    text = page_text(html)
    assert "確定したセミナー1" in text and "確定したセミナー2" in text
    assert "6月4日（火） 15:30～" in text
    assert NOTICE not in text


def test_schedule_with_a_blank_theme_has_the_notice(app, client):
    untitled = exact("untitled", date(2030, 6, 4), "x")
    del untitled["title"]
    load(app, {"seminars": [untitled]})
    assert NOTICE in page_text(get_html(client, "/seminars?fy=2030"))


# ----------------------------------------------------------------------------- one seminar


def test_seminar_page_shows_the_seed_program(app, client, demo):
    ids = seminar_ids(app)
    html = get_html(client, f"/seminars/{ids['fy2021-1']}")
    text = page_text(html)
    assert "2021年8月3日（火） 15:30～17:00" in text
    assert FY2021_1_TITLE in text
    program = text.split("プログラム", 1)[1]
    assert re.findall(r"\b\d{1,2}:\d{2}\b", program) == ["15:30", "15:35", "15:45", "16:30"]
    titles = ["イントロダクション", "事務局からの共有事項", "実践都市による発表", "質疑応答"]
    positions = [program.index(t) for t in titles]
    assert positions == sorted(positions)
    assert "スマートシティセキュリティガイドライン（第2.0版）の概要について" in text
    assert "総務省 サイバーセキュリティ統括官室 様" in text
    assert "PwCコンサルティング合同会社 様" in text
    assert "前橋市 様、浜松市 様、岡崎市 様" in text


def test_join_link_only_for_a_registered_account(app, client, demo, create_user):
    ids = seminar_ids(app)
    path = f"/seminars/{ids['fy2021-1']}"
    assert JOIN_URL not in get_html(client, path)

    member = create_user("member")
    member_client = logged_in(app, member).client
    assert JOIN_URL not in get_html(member_client, path)

    waiting = create_user("member")
    register(app, ids["fy2021-1"], waiting.id, RegistrationState.WAITING)
    assert JOIN_URL not in get_html(logged_in(app, waiting).client, path)

    # The same page does carry the link once the account is registered.
    register(app, ids["fy2021-1"], member.id, RegistrationState.REGISTERED)
    assert JOIN_URL in get_html(member_client, path)
    assert JOIN_URL not in get_html(client, path)


def test_draft_seminar_is_only_for_the_secretariat(app, client, demo, create_user):
    load(app, {"seminars": [{
        "key": "draft-4", "series": SERIES, "fiscal_year": 2021, "number": 4, "date": "2022-02",
        "title": "下書きのセミナー", "status": "draft",
    }]})
    path = f"/seminars/{seminar_ids(app)['draft-4']}"
    assert client.get(path).status_code == 404
    member_client = logged_in(app, create_user("member")).client
    assert member_client.get(path).status_code == 404
    assert "下書きのセミナー" not in page_text(get_html(member_client, "/seminars?fy=2021"))

    secretariat_client = logged_in(app, create_user("secretariat")).client
    assert "下書きのセミナー" in page_text(get_html(secretariat_client, path))


def test_unknown_seminar_is_404(client):
    assert client.get("/seminars/999999").status_code == 404
    assert client.get("/seminars/not-a-number").status_code == 404


# ----------------------------------------------------------------------------- subcommittees


def test_subcommittee_overview(client, demo):
    html = get_html(client, "/subcommittees")
    text = page_text(html)
    assert NET_ZERO in text
    assert NET_ZERO_PURPOSE in text
    assert 'href="/subcommittees/net-zero"' in html


def test_subcommittee_detail_reproduces_the_proposal_without_contacts(client, demo):
    html = get_html(client, "/subcommittees/net-zero")
    text = page_text(html)
    assert NET_ZERO in text
    assert NET_ZERO_PURPOSE in text
    for issue in NET_ZERO_ISSUES:
        assert issue in text
    assert "活動1：国内外によるネット・ゼロの取組調査" in text
    assert "活動2：分科会開催" in text
    # In date order, as in the feeds: the seed plans ④ in 10-12月 (2021年12月) and ③ in 1-3月.
    first, second, third, fourth = (text.index(s) for s in NET_ZERO_SESSIONS)
    assert first < second < fourth < third
    assert "★ 分科会立上げ" in text
    assert "★ 報告書作成" in text

    plan = next(t for t in tables(html) if t and "4-6月" in t[0])
    assert plan[0][1:] == ["4-6月", "7-9月", "10-12月", "1-3月"]
    rows = {row[0]: row[1:] for row in plan[1:]}
    milestones = next(cells for label, cells in rows.items() if "マイルストーン" in label)
    assert "分科会立上げ" in milestones[1]  # 7-9月
    assert "報告書作成" in milestones[3]  # 1-3月
    sessions = rows["活動2"]
    assert "①" in sessions[1]
    assert "②" in sessions[2] and "④" in sessions[2]
    assert "③" in sessions[3]

    # 連絡窓口: not for visitors.
    for email in CONTACT_EMAILS:
        assert email not in text
    for name in CONTACT_NAMES:
        assert name not in text


@pytest.mark.parametrize("role", ["member", "observer"])
def test_subcommittee_contacts_shown_to_logged_in_accounts(app, demo, create_user, role):
    text = page_text(get_html(logged_in(app, create_user(role)).client, "/subcommittees/net-zero"))
    for email in CONTACT_EMAILS:
        assert email in text
    for name in CONTACT_NAMES:
        assert name in text


def test_unknown_subcommittee_is_404(client):
    assert client.get("/subcommittees/no-such-thing").status_code == 404


# ----------------------------------------------------------------------------- JSON API


def test_api_seminars(app, client, demo):
    load(app, {"seminars": [
        {"key": "api-draft", "series": SERIES, "fiscal_year": 2030, "number": 1, "title": "下書き",
         "date": "2030-05", "status": "draft"},
        {"key": "api-cancelled", "series": SERIES, "fiscal_year": 2030, "number": 2, "title": "中止の回",
         "date": "2030-05-14", "start": "10:00", "end": "11:00", "status": "cancelled"},
        {"key": "api-allday", "series": SERIES, "fiscal_year": 2030, "number": 3, "title": "終日の回",
         "date": "2030-06-04", "status": "published"},
    ]})
    ids = seminar_ids(app)
    response = client.get("/api/v1/seminars")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, dict) and list(body) == ["seminars"]
    items = body["seminars"]
    for item in items:
        assert set(item) == API_FIELDS, item
    by_key = {item["key"]: item for item in items}
    assert {"fy2021-1", "fy2021-2", "fy2021-3", "demo-upcoming", "api-cancelled", "api-allday"} <= set(by_key)
    assert "api-draft" not in by_key

    first = by_key["fy2021-1"]
    assert first["id"] == ids["fy2021-1"]
    assert first["title"] == FY2021_1_TITLE
    assert first["number"] == 1
    assert first["fiscal_year"] == 2021
    assert first["start"] == "2021-08-03T15:30:00+09:00"
    assert first["end"] == "2021-08-03T17:00:00+09:00"
    assert first["date_label"] == "8月3日（火） 15:30～"
    assert first["status"] == "published"

    second = by_key["fy2021-2"]
    assert second["start"] is None and second["end"] is None
    assert second["date_label"] == "10月上旬"
    assert by_key["fy2021-3"]["date_label"] == "12月上旬"
    assert by_key["fy2021-3"]["title"] is None

    cancelled = by_key["api-cancelled"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["start"] == "2030-05-14T10:00:00+09:00"

    allday = by_key["api-allday"]
    assert allday["start"] is None and allday["end"] is None
    assert allday["date_label"] == "6月4日（火）"

    for key, item in by_key.items():
        url, ics = urlsplit(item["url"]), urlsplit(item["ics_url"])
        assert url.scheme in ("http", "https") and url.netloc, key
        assert url.path == f"/seminars/{ids[key]}"
        assert ics.scheme in ("http", "https") and ics.netloc, key
        assert ics.path == f"/seminars/{ids[key]}.ics"
    assert client.get(urlsplit(first["url"]).path).status_code == 200


# ----------------------------------------------------------------------------- health check


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "mail": "ok"}


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_healthz_when_the_database_does_not_answer(app, make_app, tmp_path, kind):
    url = (
        "postgresql+psycopg://postgres@127.0.0.1:1/nothing" if kind == "postgresql"
        else f"sqlite:///{tmp_path / 'no-such-directory' / 'portal.sqlite'}"
    )
    broken = make_app(DATABASE_URL=url)
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "error"
    # The real database still answers.
    assert app.test_client().get("/healthz").status_code == 200


# ----------------------------------------------------------------------------- language


def test_language_switch(client):
    assert '<html lang="ja">' in get_html(client, "/")
    response = client.get("/language/en?next=/seminars")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith("/seminars")
    assert '<html lang="en">' in get_html(client, "/")
    assert '<html lang="en">' in get_html(client, "/seminars")

    response = client.get("/language/ja?next=/")
    assert response.status_code in (302, 303)
    assert '<html lang="ja">' in get_html(client, "/")


def test_language_switch_does_not_follow_an_offsite_next(client):
    response = client.get("/language/en?next=https://evil.example/")
    assert response.headers["Location"] in ("/", "http://localhost/")


def test_unknown_language_keeps_japanese(client):
    assert client.get("/language/xx?next=/").status_code == 404
    assert '<html lang="ja">' in get_html(client, "/")


def test_anonymous_pages_set_no_cookie(app, client, demo):
    # Public pages carry no per-visitor state, so they stay cheap and cacheable.
    with app.app_context():
        seminar_id = db.session.scalar(select(Seminar.id).where(Seminar.key == "fy2021-1"))
    for path in ("/", "/seminars", "/seminars?fy=2021", f"/seminars/{seminar_id}", "/subcommittees",
                 "/subcommittees/net-zero", "/calendar.ics", "/api/v1/seminars"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, path


# ----------------------------------------------------------------------------- query counts


def _numbered(i: int) -> dict[str, Any]:
    day = date(2030, 4, 1) + timedelta(days=5 * i)
    return {**exact(f"q-{i:03d}", day, f"テーマ{i:03d}"), "number": i}


def _count(client, count_queries, path: str) -> tuple[int, str]:
    """Statements of answering ``path`` in full (validator and rendering)."""
    with count_queries() as counter:
        response = client.get(path)
    assert response.status_code == 200
    return counter.count, response.get_data(as_text=True)


def test_schedule_queries_do_not_grow_with_seminars(app, client, count_queries):
    load(app, {"seminars": [_numbered(1)]})
    client.get("/seminars?fy=2030")  # warm up
    one, html = _count(client, count_queries, "/seminars?fy=2030")
    assert "テーマ001" in html

    load(app, {"seminars": [_numbered(i) for i in range(2, 51)]})
    fifty, html = _count(client, count_queries, "/seminars?fy=2030")
    text = page_text(html)
    assert all(f"テーマ{i:03d}" in text for i in range(1, 51))
    assert fifty == one, f"1 seminar: {one} queries, 50 seminars: {fifty} queries"


def _with_program(key: str, items: int, presenters: int) -> dict[str, Any]:
    record = exact(key, date(2030, 6, 4), f"プログラム{items}件")
    record["program"] = [
        {"start": f"{10 + j // 6}:{(j % 6) * 10:02d}", "title": f"項目{key}-{j:02d}", "points": [f"要点{j}"],
         "presenters": [{"organization": f"団体{key}-{j:02d}-{k}", "department": "担当課"} for k in range(presenters)]}
        for j in range(items)
    ]
    return record


def test_seminar_page_queries_do_not_grow_with_the_program(app, client, count_queries, create_user):
    load(app, {"seminars": [_with_program("small", 1, 1), _with_program("large", 30, 3)]})
    ids = seminar_ids(app)
    member_client = logged_in(app, create_user("member")).client
    for who, c in (("visitor", client), ("member", member_client)):
        c.get(f"/seminars/{ids['small']}")  # warm up
        small, _ = _count(c, count_queries, f"/seminars/{ids['small']}")
        large, html = _count(c, count_queries, f"/seminars/{ids['large']}")
        text = page_text(html)
        assert all(f"団体large-{j:02d}-{k} 担当課 様" in text for j in range(30) for k in range(3))
        assert large == small, f"{who}: 1 item: {small} queries, 30 items × 3 presenters: {large} queries"
