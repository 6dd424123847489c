"""The demo's Net-Zero subcommittee and first seminar say what the seed (and the portal) say."""

from __future__ import annotations

import re

import icalendar
from conftest import get_html, page_text
from sqlalchemy import select

from portal.core.db import db
from portal.seminars.models import Seminar
from portal.subcommittees.models import TARGET_FIELDS

STEPS = ("方向性共有", "アクション整理", "評価方法検討", "ロードマップ検討")


def test_net_zero_shows_all_twelve_target_fields_and_the_four_steps_in_order(client, demo):
    html = get_html(client, "/subcommittees/net-zero")
    fields = html[html.index("対象分野</h2>"):]
    fields = fields[:fields.index("</ul>")]
    assert re.findall(r"<li>(.*?)</li>", fields) == list(TARGET_FIELDS)
    steps = html[html.index('<section id="steps">'):]
    steps = steps[:steps.index("</section>")]
    assert re.findall(r"<h3>(.*?)</h3>", steps) == list(STEPS)
    assert "スマートシティ推進計画への落とし込み" in steps  # each step keeps its points


def test_sessions_read_in_the_same_date_order_on_the_page_and_in_the_feed(client, demo):
    html = get_html(client, "/subcommittees/net-zero")
    on_page = [int(n) for n in re.findall(r'data-session-number="(\d+)"', html)]
    # The seed's plan: ① 7-9月, ② 10-12月, ④ 10-12月 (December), ③ 1-3月 (January).
    assert on_page == [1, 2, 4, 3]
    text = page_text(html)
    assert text.index("2021年12月") < text.index("2022年1月")
    feed = icalendar.Calendar.from_ical(client.get("/subcommittees/net-zero/calendar.ics").data)
    in_feed = [str(e["SUMMARY"]) for e in feed.walk("VEVENT") if "★" not in str(e["SUMMARY"])]
    titles = ["ネット・ゼロ×スマートシティへの理解", "現在/将来のアクション", "達成に向けたロードマップ",
              "ネット・ゼロスマートシティの評価"]
    assert len(in_feed) == 4
    assert all(t in s for t, s in zip(titles, in_feed, strict=True)), in_feed


def test_the_finished_year_report_milestone_is_not_late(client, demo):
    text = page_text(get_html(client, "/subcommittees/net-zero"))
    assert "報告書作成" in text and "遅延" not in text


def test_the_first_seminar_says_what_the_portal_does_with_questions_not_taken(app, client, demo):
    with app.app_context():
        first = db.session.scalar(select(Seminar.id).where(Seminar.key == "fy2021-1"))
    text = page_text(get_html(client, f"/seminars/{first}"))
    assert "Q&A終了時にポータルが官民連携プラットフォーム事務局へまとめて届けます" in text
    assert "メールでご送付ください" not in text and "自動でお送りします" not in text
