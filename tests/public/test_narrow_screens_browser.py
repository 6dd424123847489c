"""At 390×844 (a phone): the annual schedule as cards, the fiscal-year timeline readable (it
scrolls inside its own box at a readable size, its labels neither collide nor get cut), and
nothing pushes the page wider than the screen."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="ja-JP", viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_the_schedule_is_cards_on_a_phone(phone, demo):
    phone.goto("/seminars?fy=2021")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    rows = phone.locator("table.schedule tr.seminar")
    assert rows.count() == 3
    for i in range(3):
        row = rows.nth(i)
        assert row.evaluate("el => getComputedStyle(el).display") == "block"
        content = row.locator("td").nth(2).bounding_box()
        assert content is not None and content["width"] >= 300  # 内容 gets the card's width, not two characters
    assert phone.locator("table.schedule thead").evaluate("el => el.getBoundingClientRect().height") <= 1


def test_the_timeline_scrolls_inside_itself_with_readable_labels_that_do_not_collide(phone, demo):
    phone.goto("/subcommittees/net-zero")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    figure = phone.locator("figure.timeline")
    box = figure.evaluate("el => ({client: el.clientWidth, scroll: el.scrollWidth})")
    assert box["client"] <= 390 and box["scroll"] >= 700  # drawn at a readable size, scrolled within
    assert figure.get_attribute("tabindex") == "0"  # keyboard users can scroll it too
    texts = figure.locator("svg text").evaluate_all(
        "els => els.map(t => { const r = t.getBoundingClientRect();"
        " return {text: t.textContent, x: r.left, y: r.top, w: r.width, h: r.height}; })")
    assert all("…" not in t["text"] for t in texts)
    labels = [t for t in texts if t["text"].strip() and t["h"] >= 10]  # font big enough to read
    assert len(labels) == len([t for t in texts if t["text"].strip()])
    svg = figure.locator("svg").bounding_box()
    assert svg is not None
    for t in labels:
        assert t["x"] >= svg["x"] - 1 and t["x"] + t["w"] <= svg["x"] + svg["width"] + 1, t  # not cut at an edge
    marks = [t for t in labels if t["text"] != "★" and t["x"] > svg["x"] + 140]  # labels in the chart area
    for i, a in enumerate(marks):
        for b in marks[i + 1:]:
            overlap_x = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            overlap_y = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            assert overlap_x <= 1 or overlap_y <= 1, (a["text"], b["text"])


def test_two_milestones_close_together_get_rows_of_their_own(phone, make_subcommittee):
    make_subcommittee("close-marks", milestones=[
        {"title": "分科会立上げ", "due": "2021-09-30"}, {"title": "中間報告会の開催と取りまとめ", "due": "2021-10-08"}])
    phone.goto("/subcommittees/close-marks")
    stars = phone.locator("figure.timeline g.milestone text:not(:has-text('★'))")
    boxes = [stars.nth(i).bounding_box() for i in range(stars.count())]
    assert len(boxes) == 2 and all(boxes)
    a, b = boxes
    assert a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]
