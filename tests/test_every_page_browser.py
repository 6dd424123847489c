"""Every page each role reaches by following links, in Chromium at 1280×800 and 390×844:

- axe-core (WCAG 2.0/2.1 A and AA rules, loaded from node_modules: `make test` installs it from
  the npm registry) finds no violation;
- no two elements share an id, and every form control has a name and an accessible label;
- nothing pushes the page wider than the screen (scrollWidth <= the viewport's width): the
  schedule becomes cards, the timeline and back-office tables scroll inside themselves.

One browser, one crawl per role; each route is visited once (its first link found), so the run
grows with the number of routes, not of seminars or questions.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import add_member, log_in_page, register_accounts
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.core.db import db
from portal.seminars.models import Seminar
from portal.subcommittees.models import Subcommittee

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
SIZES = ((1280, 800), (390, 844))
# Not pages: downloads, feeds, exports, the language switch (a redirect), logging out.
NOT_PAGES = ("/logout", "/language/", "/static/", "/materials/", "/calendar", ".ics", ".csv", ".json", "/api/")

# Pages each crawl must reach (so a page no link leads to any more cannot slip out of the checks).
MUST_SEE = {
    "visitor": {"seminars.schedule", "seminars.detail", "subcommittees.detail", "public.accessibility",
                "public.sitemap", "accounts.signup"},
    "member": {"accounts.account", "subcommittees.dashboard", "seminars.my_seminars", "qa.questions"},
    "secretariat": {"secretariat.dashboard", "secretariat.seminars.manage", "secretariat.announcements.compose",
                    "secretariat.subcommittees.requests", "secretariat.mail.outbox", "secretariat.audit.log",
                    "secretariat.seminars.attendance"},
}
CHECKS = """() => {
  const ids = {};
  for (const el of document.querySelectorAll('[id]')) ids[el.id] = (ids[el.id] || 0) + 1;
  const duplicates = Object.keys(ids).filter(id => ids[id] > 1);
  const unnamed = [...document.querySelectorAll('input:not([type=hidden]):not([type=submit]), select, textarea')]
    .filter(el => !el.name).map(el => el.outerHTML.slice(0, 120));
  return {duplicates, unnamed, width: document.documentElement.scrollWidth};
}"""
AXE_RUN = """async () => {
  const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
  return result.violations.map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""


@pytest.fixture
def populated(app, demo, create_user):
    """The demo plus what makes every kind of page appear: a member registered for the upcoming
    seminar and a member of Net-Zero; the secretariat."""
    member = create_user("member", name="会員 太郎")
    secretariat = create_user("secretariat", name="事務局 花子", org=None)
    with app.app_context():
        upcoming = db.session.scalar(select(Seminar.id).where(Seminar.key == "demo-upcoming"))
        net_zero = db.session.scalar(select(Subcommittee.id).where(Subcommittee.slug == "net-zero"))
    register_accounts(app, upcoming, member)
    add_member(app, net_zero, member)
    return {"visitor": None, "member": member, "secretariat": secretariat}


def route_of(app, path: str) -> str | None:
    try:
        endpoint, _ = app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:
        return None
    return endpoint


def crawl(app, page, live_server: str) -> list[str]:
    """Pages reachable by links from home, one per route."""
    seen_routes: set[str] = set()
    found: list[str] = []
    queue = deque(["/"])
    while queue:
        path = queue.popleft()
        route = route_of(app, urlsplit(path).path)
        if route is None or route in seen_routes or any(part in path for part in NOT_PAGES):
            continue
        seen_routes.add(route)
        response = page.goto(path)
        if response is None or response.status != 200 or urlsplit(page.url).path != urlsplit(path).path:
            continue  # a redirect (log-in) or a refusal: not this role's page
        found.append(path)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(a => a.getAttribute('href'))"):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue  # another site, mailto:, webcal:, a fragment
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def check_page(page, path: str) -> list[str]:
    page.goto(path)
    problems = []
    facts = page.evaluate(CHECKS)
    width = page.viewport_size["width"]
    if facts["duplicates"]:
        problems.append(f"duplicate ids {facts['duplicates']}")
    if facts["unnamed"]:
        problems.append(f"controls without a name {facts['unnamed']}")
    if facts["width"] > width:
        problems.append(f"scrollWidth {facts['width']} > {width}")
    page.add_script_tag(path=str(AXE))
    problems += page.evaluate(AXE_RUN)
    return [f"{path} at {width}px: {p}" for p in problems]


@pytest.mark.parametrize("role", ["visitor", "member", "secretariat"])
def test_every_page_passes_axe_has_unique_ids_and_fits_a_phone(app, browser, live_server, populated, role):
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make test` (npm install --no-audit --no-fund)")
    context = browser.new_context(base_url=live_server, locale="ja-JP", viewport={"width": 1280, "height": 800},
                                  bypass_csp=True)  # only to inject axe-core; the pages keep their CSP
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        if populated[role] is not None:
            log_in_page(page, live_server, populated[role])
        pages = crawl(app, page, live_server)
        assert len(pages) >= {"visitor": 8, "member": 12, "secretariat": 20}[role], pages
        routes = {route_of(app, urlsplit(p).path) for p in pages}
        assert MUST_SEE[role] <= routes, MUST_SEE[role] - routes
        problems: list[str] = []
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            for path in pages:
                problems += check_page(page, path)
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_the_crawl_would_see_an_overflow_and_a_duplicate_id(browser, live_server):
    """The checks themselves: a page wider than the phone and a repeated id are reported."""
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto("/")
        page.evaluate("""() => { const d = document.createElement('div'); d.style.width = '900px';
          d.id = 'main'; d.textContent = 'x'; document.body.append(d); }""")
        facts = page.evaluate(CHECKS)
        assert facts["width"] > 390 and "main" in facts["duplicates"]
    finally:
        context.close()

