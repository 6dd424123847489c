"""English mode (the locale switch) on every page a role reaches by links, member and back
office included: Japanese text (seminar titles, descriptions, presenters, questions,
subcommittee texts, anything from the database or the seed) sits inside an element marked
lang="ja", so a screen reader set to English pronounces it as Japanese (WCAG 3.1.2).

An HTML parse with the test client (no browser needed): each text node that holds kana or
kanji must have an ancestor whose lang is "ja"; <html lang="en"> alone does not count.
"""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from conftest import AuthActions, add_member, register_accounts
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.accounts.models import User
from portal.core.db import db
from portal.qa import operations as qa_operations
from portal.seminars.models import Seminar
from portal.subcommittees.models import Subcommittee

# Kana and kanji; not the middle dot ・ alone (a separator between English words too).
JAPANESE = re.compile(r"[\u3040-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
# Not pages: downloads, feeds, exports, the language switch (a redirect), logging out.
NOT_PAGES = ("/logout", "/language/", "/static/", "/materials/", "/calendar", ".ics", ".csv", ".json", "/api/")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# The language switch names each language in itself (日本語 marked lang="ja" already).
MUST_SEE = {
    "visitor": {"seminars.schedule", "seminars.detail", "subcommittees.detail", "public.privacy", "public.sitemap"},
    "member": {"accounts.account", "subcommittees.dashboard", "seminars.my_seminars", "qa.questions",
               "subcommittees.detail", "seminars.detail"},
    "secretariat": {"secretariat.dashboard", "secretariat.seminars.manage", "secretariat.seminars.seminar_edit",
                    "secretariat.subcommittees.requests", "secretariat.mail.outbox", "secretariat.qa.questions",
                    "secretariat.accounts.inventory"},
}


class Unmarked(HTMLParser):
    """Text nodes with Japanese in them whose nearest lang (the element's own or an ancestor's)
    is not ja."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []  # (tag, lang in force)
        self.found: list[str] = []

    def lang(self) -> str | None:
        return self.stack[-1][1] if self.stack else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        own = dict(attrs).get("lang")
        if tag not in VOID:
            self.stack.append((tag, own if own is not None else self.lang()))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        # <title> cannot mark a part of itself (a page named after a seminar keeps its English tail).
        if self.stack and self.stack[-1][0] in ("script", "style", "title"):
            return
        if JAPANESE.search(data) and (self.lang() or "").split("-")[0] != "ja":
            tags = "/".join(t for t, _ in self.stack[-3:])
            self.found.append(f"<{tags}> {' '.join(data.split())[:60]}")


def unmarked(html: str) -> list[str]:
    parser = Unmarked()
    parser.feed(html)
    return parser.found


def route_of(app, path: str) -> str | None:
    try:
        endpoint, _ = app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:
        return None
    return endpoint


def crawl(app, client) -> dict[str, str]:
    """Path → HTML of the pages reachable by links from home, one per route."""
    seen: set[str] = set()
    pages: dict[str, str] = {}
    queue = deque(["/"])
    while queue:
        path = queue.popleft()
        route = route_of(app, urlsplit(path).path)
        if route is None or route in seen or any(part in path for part in NOT_PAGES):
            continue
        seen.add(route)
        response = client.get(path)
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        html = response.get_data(as_text=True)
        pages[path] = html
        for href in re.findall(r'<a [^>]*href="([^"]+)"', html):
            parts = urlsplit(href.replace("&amp;", "&"))
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return pages


@pytest.fixture
def people(app, demo, create_user):
    """The demo, a member registered for the upcoming seminar and in Net-Zero, the secretariat."""
    member = create_user("member", name="会員 太郎")
    secretariat = create_user("secretariat", name="事務局 花子", org=None)
    with app.app_context():
        upcoming = db.session.scalar(select(Seminar.id).where(Seminar.key == "demo-upcoming"))
        net_zero = db.session.scalar(select(Subcommittee.id).where(Subcommittee.slug == "net-zero"))
    register_accounts(app, upcoming, member)
    add_member(app, net_zero, member)
    with app.app_context():  # a question on the live list (its body and its asker's name are content)
        seminar = db.session.get(Seminar, upcoming)
        qa_operations.open_qa(seminar)
        qa_operations.ask(seminar, db.session.get(User, member.id), "会場からの質問です。資料は後日いただけますか。")
        db.session.commit()
    return {"visitor": None, "member": member, "secretariat": secretariat}


@pytest.mark.parametrize("role", ["visitor", "member", "secretariat"])
def test_in_english_japanese_content_is_marked_lang_ja_on_every_page(app, people, role):
    client = app.test_client()
    assert client.get("/language/en").status_code == 302
    if people[role] is not None:
        assert AuthActions(client).login(people[role]).status_code == 302
    pages = crawl(app, client)
    routes = {route_of(app, urlsplit(p).path) for p in pages}
    assert MUST_SEE[role] <= routes, MUST_SEE[role] - routes
    problems = [f"{path}: {text}" for path, html in pages.items() for text in unmarked(html)]
    assert not problems, f"{len(problems)} unmarked:\n" + "\n".join(problems)


def test_site_documents_in_english_say_they_are_japanese_and_mark_the_body(app, client):
    """The privacy policy, terms, accessibility statement and contact page exist in Japanese
    only: in English mode the title is English, a note says so, the body is lang="ja"."""
    assert client.get("/language/en").status_code == 302
    for path in ("/privacy", "/terms", "/accessibility", "/contact"):
        html = client.get(path).get_data(as_text=True)
        assert "This document is available in Japanese only." in html, path
        assert '<div class="doc" lang="ja">' in html and not unmarked(html), path


def test_the_check_sees_an_unmarked_japanese_text_and_accepts_a_marked_one():
    html = ('<html lang="en"><body><p>Theme: <span lang="ja">前橋市の取組</span></p>'
            '<ul lang="ja"><li><a>浜松市</a></li></ul><p>Hall 岡崎市</p><br><p>OK</p></body></html>')
    assert unmarked(html) == ["<html/body/p> Hall 岡崎市"]
