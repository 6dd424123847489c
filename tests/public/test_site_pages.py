"""Site pages a Japanese public portal carries, linked from every page's footer."""

from __future__ import annotations

import re

from conftest import get_html, page_text

PAGES = {
    "/privacy": "プライバシーポリシー",
    "/terms": "利用規約",
    "/accessibility": "ウェブアクセシビリティ方針",
    "/contact": "お問い合わせ",
    "/sitemap": "サイトマップ",
}


def test_every_site_page_is_linked_from_the_footer_and_answers(client, demo):
    home = get_html(client, "/")
    footer = home[home.index('<footer class="site">'):]
    for path, title in PAGES.items():
        assert f'href="{path}"' in footer, path
        html = get_html(client, path)
        assert f"<h1>{title}</h1>" in html
        assert f'href="{path}" aria-current="page"' in html  # the footer marks where one is


def test_accessibility_statement_names_the_standard_and_what_was_tested(client):
    text = page_text(get_html(client, "/accessibility"))
    for fact in ("JIS X 8341-3:2016", "適合レベルAA 一部準拠", "axe-core", "1280×800", "390×844",
                 "訪問者・会員・事務局"):
        assert fact in text


def test_contact_gives_the_configured_secretariat_address(make_app):
    app = make_app(SECRETARIAT_EMAIL="desk@city.example.org")
    html = get_html(app.test_client(), "/contact")
    assert 'href="mailto:desk@city.example.org"' in html


def test_sitemap_lists_the_years_and_subcommittees(client, demo):
    html = get_html(client, "/sitemap")
    assert 'href="/seminars?fy=2021"' in html
    assert 'href="/subcommittees/net-zero"' in html


def test_english_mode_translates_titles_and_marks_the_japanese_body(client):
    assert client.get("/language/en").status_code == 302
    html = get_html(client, "/privacy")
    assert "<h1>Privacy policy</h1>" in html
    assert "This document is available in Japanese only." in html
    assert re.search(r'<div class="doc" lang="ja">\s*<p>官民連携', html)
    footer = html[html.index('<footer class="site">'):]
    assert ">Terms of use</a>" in footer and ">Web accessibility policy</a>" in footer
