"""A client chooses its Host header: it must never choose what the portal stores or mails
(issue 13, item 7: 520 distinct Hosts grew a worker from 95 to 682 MB)."""

from __future__ import annotations

import pytest

FORGED = "evil.example"


def stored(app) -> int:
    return len(app.extensions["portal.web.answers"]._entries)


@pytest.mark.parametrize("base_url", ["http://portal.test", None])
def test_six_hundred_hosts_do_not_grow_the_stored_answers(make_app, demo, base_url):
    app = make_app(PORTAL_BASE_URL=base_url)
    client = app.test_client()
    assert client.get("/calendar.ics").status_code == 200
    assert client.get("/calendar.ics").status_code == 200  # from the store
    before = stored(app)
    assert before >= 1
    answers = {client.get("/calendar.ics", headers={"Host": f"h{n}.example"}).status_code for n in range(600)}
    # With a base URL every Host gets the one stored feed; without one, only trusted hosts are served.
    assert answers == ({200} if base_url else {400})
    assert stored(app) == before


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
