"""Requests to join, where the mails point: the secretariat (no lead yet) gets a link to its list
of pending requests across subcommittees, a lead to the members section; the applicant gets an
acknowledgement and sees 申請中 on the dashboard; the decision mail names who decided."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from conftest import add_member, asks_first, get_html, logged_in, page_text


def link_in(body: str) -> str:
    return urlsplit(re.search(r"(https?://\S+)", body).group(1)).path


def test_the_secretariat_decides_from_its_list_and_the_mail_says_so(app, create_user, make_subcommittee, outbox):
    make_subcommittee("no-lead", name="未定の分科会")
    other = make_subcommittee("other-sub", name="別の分科会")
    applicant_user, second_user = create_user("member", name="申請 太郎"), create_user("member", name="申請 次郎")
    applicant = logged_in(app, applicant_user)
    assert applicant.post("/subcommittees/no-lead/join").status_code == 302
    assert logged_in(app, second_user).post("/subcommittees/other-sub/join").status_code == 302

    (to_secretariat, _) = outbox("subcommittee.join_requested")
    assert link_in(to_secretariat.body) == "/secretariat/subcommittees/requests"
    acks = outbox("subcommittee.join_received")
    assert [m.recipients for m in acks] == [[applicant_user.email], [second_user.email]]
    assert "受け付けました" in acks[0].subject and "事務局が確認し" in acks[0].body
    assert link_in(acks[0].body) == "/account/subcommittees"

    dashboard = get_html(applicant.client, "/account/subcommittees")
    assert re.search(r'data-request="no-lead">.*未定の分科会.*申請中', dashboard)

    secretariat = logged_in(app, create_user("secretariat", org=None))
    listing = get_html(secretariat.client, "/secretariat/subcommittees/requests")
    text = page_text(listing)
    assert "申請 太郎" in text and "申請 次郎" in text and "未定の分科会" in text and "別の分科会" in text
    mid = re.search(r'data-request-id="(\d+)">\s*<td><a href="/subcommittees/no-lead', listing).group(1)
    # The list's button only asks (the applicant is mailed): nothing decided, nothing mailed yet.
    path = f"/secretariat/subcommittees/requests/{mid}/approve"
    confirm = page_text(asks_first(secretariat.post(path), path, mails=1))
    assert "申請 太郎" in confirm and "未定の分科会" in confirm
    assert outbox("subcommittee.join_decided") == []
    assert "申請 太郎" in page_text(get_html(secretariat.client, "/secretariat/subcommittees/requests"))
    assert secretariat.post(f"/secretariat/subcommittees/requests/{mid}/approve", {"confirmed": "1"}).status_code == 302
    (decided,) = outbox("subcommittee.join_decided")
    assert decided.recipients == [applicant_user.email]
    assert "事務局が承認しました" in decided.body and "リーダーが" not in decided.body
    listing = page_text(get_html(secretariat.client, "/secretariat/subcommittees/requests"))
    assert "申請 太郎" not in listing and "申請 次郎" in listing
    assert "data-request=" not in get_html(applicant.client, "/account/subcommittees")
    # Decided once: a second decision is refused and mails nobody.
    assert secretariat.post(f"/secretariat/subcommittees/requests/{mid}/decline", {"confirmed": "1"}).status_code == 302
    assert len(outbox("subcommittee.join_decided")) == 1
    assert other


def test_a_lead_is_pointed_to_the_members_section_and_named_in_the_decision(
        app, create_user, make_subcommittee, outbox):
    sub = make_subcommittee("with-lead")
    lead_user = create_user("member")
    add_member(app, sub, lead_user, lead=True)
    applicant_user = create_user("member")
    assert logged_in(app, applicant_user).post("/subcommittees/with-lead/join").status_code == 302
    (to_lead,) = outbox("subcommittee.join_requested")
    assert to_lead.recipients == [lead_user.email]
    assert re.search(r"https?://\S+/subcommittees/with-lead#members", to_lead.body)
    lead = logged_in(app, lead_user)
    page = get_html(lead.client, "/subcommittees/with-lead")
    mid = re.search(r"/subcommittees/with-lead/members/(\d+)/decline", page).group(1)
    assert lead.post(f"/subcommittees/with-lead/members/{mid}/decline", {"confirmed": "1"}).status_code == 302
    (decided,) = outbox("subcommittee.join_decided")
    assert "分科会のリーダーが検討した結果" in decided.body


def test_only_the_secretariat_sees_the_list(app, create_user):
    member = logged_in(app, create_user("member"))
    assert member.client.get("/secretariat/subcommittees/requests").status_code == 403
