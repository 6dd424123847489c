"""Pages in a real browser (Debian's chromium through Playwright)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_member_logs_in_through_the_form_and_out_again(page, live_server, create_user):
    user = create_user("member", name="山田 花子", password="a-long-password-1")

    page.goto("/")
    page.get_by_role("link", name="ログイン").click()
    page.get_by_label("メールアドレス").fill(user.email)
    page.get_by_label("パスワード").fill("a-long-password-1")
    page.get_by_role("button", name="ログイン").click()

    page.wait_for_url(f"{live_server}/")
    assert page.get_by_text("ようこそ、山田 花子 さん。").is_visible()
    page.get_by_role("link", name="山田 花子").click()
    assert page.locator("dd", has_text=user.email).is_visible()

    page.get_by_role("button", name="ログアウト", exact=True).click()
    assert page.get_by_text("ログアウトしました。").is_visible()
    assert page.get_by_role("link", name="ログイン").is_visible()


def test_wrong_password_keeps_the_visitor_on_the_form_with_a_message(page, create_user):
    user = create_user("member")

    page.goto("/login")
    page.get_by_label("メールアドレス").fill(user.email)
    page.get_by_label("パスワード").fill("not-the-password")
    page.get_by_role("button", name="ログイン").click()

    assert page.get_by_role("alert").inner_text() == "メールアドレスまたはパスワードが正しくありません。"
    assert page.get_by_label("メールアドレス").input_value() == user.email
