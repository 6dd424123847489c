"""Menus say where one is (aria-current), and a failed submit moves focus to a summary of what
to fix, each item linked to its field."""

from __future__ import annotations

import pytest
from conftest import get_html

pytestmark = pytest.mark.browser


def test_menus_mark_the_current_page_and_section(client, auth, create_user):
    assert 'href="/seminars" aria-current="page"' in get_html(client, "/seminars")
    auth.login(create_user("secretariat", org=None))
    html = get_html(client, "/secretariat/outbox")
    assert 'href="/secretariat/outbox" aria-current="page"' in html
    assert 'href="/secretariat/" aria-current="true"' in html  # the 事務局 section in the main menu
    assert html.count('aria-current="page"') == 1


def test_a_failed_submit_moves_focus_to_the_error_summary(page):
    page.goto("/signup")
    page.get_by_label("メールアドレス").fill("not-an-address")
    page.get_by_role("button", name="申請する").click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert "入力内容を確認してください" in summary.inner_text()
    summary.get_by_role("link", name="メールアドレス：メールアドレスの形式が正しくありません。").click()
    assert page.evaluate("document.activeElement.id") == "email"
