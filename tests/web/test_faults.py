"""Faults a visitor must never see as a bare error: ids beyond what a column holds, and a
database that fails while a logged-in account asks for a page."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text


@pytest.mark.parametrize("ident", ["2147483648", "99999999999999999999", "9223372036854775808"])
@pytest.mark.parametrize("path", ["/seminars/{}", "/seminars/{}.ics", "/questions/{}/vote"])
def test_an_id_beyond_the_column_is_404(app, client, ident, path):
    # PostgreSQL's integer stops at 2147483647 (NumericValueOutOfRange), SQLite's at 2**63 (OverflowError).
    response = client.get(path.format(ident)) if not path.endswith("vote") else client.post(path.format(ident))
    assert response.status_code in (404, 400), response.status_code
    if response.status_code == 400:  # a POST without its CSRF token is refused before routing matters
        assert client.get(path.format(ident)).status_code in (404, 405)


def test_the_error_page_needs_no_database(app, database_url, create_user, auth):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error page answers
    user = create_user("member")
    assert auth.login(user).status_code == 302
    assert auth.client.get("/account").status_code == 200
    # The accounts table goes away under the running app: loading the logged-in user fails.
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE users RENAME TO users_gone"))
    try:
        response = auth.client.get("/account")
        assert response.status_code == 500
        page = response.get_data(as_text=True)
        assert "エラーが発生しました" in page, page[:300]  # the portal's page, not Werkzeug's bare one
        assert "官民連携プラットフォーム" in page
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE users_gone RENAME TO users"))
        engine.dispose()
