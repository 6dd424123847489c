"""A material attached to a program item is listed under that item on the seminar page; the
seminar's own materials stay in the 資料 section."""

from __future__ import annotations

import re

from test_materials import PDF, program_ids, secretariat, upload


def test_item_materials_are_listed_under_their_item(app, client, auth, create_user, make_seminar):
    seminar_id = make_seminar("by-item", program=[
        {"start": "15:30", "title": "イントロダクション"}, {"start": "15:45", "title": "前橋市の取組紹介"}])
    intro, talk = program_ids(app, seminar_id)
    secretariat(create_user, auth)
    response = upload(auth, seminar_id, "maebashi.pdf", PDF, title="前橋市発表資料", item=talk, public=True)
    assert response.status_code == 302
    assert upload(auth, seminar_id, "all.pdf", PDF, title="当日の配布資料一式", public=True).status_code == 302

    html = app.test_client().get(f"/seminars/{seminar_id}").get_data(as_text=True)
    item_re = r'data-program-item-id="(\d+)">(.*?)</li>\s*(?=<li class="program-item"|</ol>)'
    items = dict(re.findall(item_re, html, re.S))
    assert "前橋市発表資料" in items[str(talk)]
    assert "前橋市発表資料" not in items[str(intro)] and "当日の配布資料一式" not in items[str(talk)]
    section = html[html.index('<h2 id="materials">'):]
    assert "当日の配布資料一式" in section and "前橋市発表資料" not in section
