"""In English mode the Japanese content (titles, programs, proposals as entered) is marked
lang="ja"; in Japanese mode the page's own lang="ja" already says so."""

from __future__ import annotations

from conftest import get_html
from sqlalchemy import select

from portal.core.db import db
from portal.seminars.models import Seminar


def test_japanese_content_is_marked_in_english_mode(app, client, demo):
    with app.app_context():
        first = db.session.scalar(select(Seminar.id).where(Seminar.key == "fy2021-1"))
    japanese = get_html(client, f"/seminars/{first}")
    assert '<html lang="ja">' in japanese and '<span lang="ja">' not in japanese

    assert client.get("/language/en").status_code == 302
    html = get_html(client, f"/seminars/{first}")
    assert '<html lang="en">' in html
    for text in ("前橋市・浜松市・岡崎市による取組紹介・意見交換", "イントロダクション",
                 "本日のオンラインセミナープログラム紹介", "総務省 サイバーセキュリティ統括官室 様"):
        assert f'<span lang="ja">{text}</span>' in html, text
    schedule = get_html(client, "/seminars?fy=2021")
    assert '<span lang="ja">中山間地での取組や都市OSを導入した地域の取組紹介・意見交換</span>' in schedule
    sub = get_html(client, "/subcommittees/net-zero")
    for text in ("ネット・ゼロ スマートシティ検討分科会", "方向性共有", "エネルギー"):
        assert f'<span lang="ja">{text}</span>' in sub, text
