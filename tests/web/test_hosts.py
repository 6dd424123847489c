"""A client chooses its Host header: it must never choose what the portal stores or mails
(issue 13, item 7: 520 distinct Hosts grew a worker from 95 to 682 MB)."""

from __future__ import annotations

import pytest

FORGED = "evil.example"


@pytest.mark.parametrize("base_url", ["http://portal.test", None])
def test_six_hundred_hosts_get_one_answer_or_none(make_app, demo, base_url):
    # A shared cache (nginx) keys its copies by Host: a forged Host must get either the one
    # answer everybody gets (same validator, same bytes) or a 400 that nothing keeps.
    app = make_app(PORTAL_BASE_URL=base_url)
    client = app.test_client()
    first = client.get("/calendar.ics")
    assert first.status_code == 200
    answers = [client.get("/calendar.ics", headers={"Host": f"h{n}.example"}) for n in range(600)]
    # With a base URL every Host gets the one feed; without one, only trusted hosts are served.
    assert {a.status_code for a in answers} == ({200} if base_url else {400})
    if base_url:
        assert {a.headers["ETag"] for a in answers} == {first.headers["ETag"]}
        assert {a.data for a in answers} == {first.data}
    else:
        assert all("public" not in a.headers.get("Cache-Control", "") for a in answers)


def test_a_forged_host_never_reaches_a_mailed_link_without_a_base_url(make_app, create_user, outbox):
    app = make_app(PORTAL_BASE_URL=None, WTF_CSRF_ENABLED=False)  # a 400 here is the Host's, not CSRF's
    client = app.test_client()
    member = create_user("member")
    refused = client.post("/password-reset", data={"email": member.email}, headers={"Host": FORGED})
    assert refused.status_code == 400
    assert FORGED not in refused.get_data(as_text=True)
    assert outbox("account.password_reset") == []
    # A trusted host (the local demo's) is served, and its links follow it.
    assert client.post("/password-reset", data={"email": member.email},
                       headers={"Host": "127.0.0.1:5000"}).status_code == 200
    [mail] = outbox("account.password_reset")
    assert "http://127.0.0.1:5000/password-reset/" in mail.body


def test_a_forged_host_never_reaches_a_mailed_link_with_a_base_url(make_app, create_user, outbox):
    app = make_app(WTF_CSRF_ENABLED=False)  # PORTAL_BASE_URL=http://portal.test
    client = app.test_client()
    member = create_user("member")
    assert client.post("/password-reset", data={"email": member.email}, headers={"Host": FORGED}).status_code == 200
    [mail] = outbox("account.password_reset")
    assert FORGED not in mail.body
    assert "http://portal.test/password-reset/" in mail.body


def test_links_built_off_a_forged_host_fall_back_to_a_trusted_base(make_app):
    from portal.web.urls import base_url

    app = make_app(PORTAL_BASE_URL=None, TRUSTED_HOSTS=["portal-a.example"])
    with app.test_request_context("/", headers={"Host": "portal-a.example"}):
        assert base_url() == "http://portal-a.example"
    app.config["TRUSTED_HOSTS"] = []  # nobody trusted: never the request's Host
    with app.test_request_context("/", headers={"Host": FORGED}):
        assert FORGED not in base_url()
