"""The fiscal-year plan (実施スケジュール) as the seed's proposal draws it: fiscal quarters, the
plan table by quarter, and the same plan laid out in pixels for the page's SVG.

One rule for where things fall: a milestone on its due day, an activity over its ``period``, a
session over its date window; a quarter is the fiscal quarter of that day.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

from portal.core.dates import Precision, fiscal_year_bounds, today_local
from portal.core.labels import label
from portal.subcommittees.models import MilestoneState, SessionStatus, Subcommittee

QUARTER_LABELS = ("4-6月", "7-9月", "10-12月", "1-3月")
QUARTERS = (1, 2, 3, 4)
MILESTONE_COLORS = {MilestoneState.DONE: "#1b6e2d", MilestoneState.LATE: "#b00020", MilestoneState.PLANNED: "#0b5cad"}


def quarter_of(day: date) -> int:
    """Fiscal quarter 1–4 of a day: 4-6月 = 1, 7-9月 = 2, 10-12月 = 3, 1-3月 = 4."""
    return (day.month - 4) % 12 // 3 + 1


def quarter_bounds(fy: int, quarter: int) -> tuple[date, date]:
    """First and last day of fiscal quarter 1–4 of fiscal year ``fy``."""
    start_month = (3 + 3 * (quarter - 1)) % 12 + 1
    year = fy if start_month >= 4 else fy + 1
    first = date(year, start_month, 1)
    nxt = date(year + (start_month + 3 > 12), (start_month + 2) % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


# The plan table ------------------------------------------------------------------------------

@dataclass
class PlanMilestone:
    title: str
    state: MilestoneState
    shows_state: bool  # done and late are written out; planned is the normal case


@dataclass
class PlanCell:
    title: str | None = None  # the activity's title in each quarter it runs
    sessions: list[str] = field(default_factory=list)  # or the sessions held in it (①, ②…)


@dataclass
class PlanRow:
    label: str
    cells: list[PlanCell]


@dataclass
class PlanTable:
    quarters: tuple[str, ...]
    milestones: list[list[PlanMilestone]]  # per quarter
    activities: list[PlanRow]


def plan_table(sub: Subcommittee, today: date | None = None) -> PlanTable:
    today = today or today_local()
    milestones: list[list[PlanMilestone]] = [[] for _ in QUARTERS]
    for m in sub.milestones:
        state = m.state(today)
        milestones[quarter_of(m.due_on) - 1].append(PlanMilestone(m.title, state, state is not MilestoneState.PLANNED))
    sessions_by_quarter: dict[int, list[str]] = {q: [] for q in QUARTERS}
    for s in sub.sessions:
        if s.date_on is not None:
            sessions_by_quarter[quarter_of(s.date_on)].append(s.circled_number)
    rows = []
    for a in sub.activities:
        if a.period is None:
            continue
        first, last = quarter_of(a.period[0]), quarter_of(a.period[1])
        cells = []
        for q in QUARTERS:
            if not first <= q <= last:
                cells.append(PlanCell())
            elif a.holds_sessions:
                cells.append(PlanCell(sessions=sessions_by_quarter[q]))
            else:
                cells.append(PlanCell(title=a.title))
        rows.append(PlanRow(a.label, cells))
    return PlanTable(QUARTER_LABELS, milestones, rows)


# The SVG layout ------------------------------------------------------------------------------

@dataclass
class TimelineMark:
    kind: str  # milestone, activity, session
    label: str
    x: float
    width: float  # 0 for a point in time
    quarter: int
    state: str = ""
    label_end: bool = False  # label drawn left of the mark (near the right edge)
    lines: list[str] = field(default_factory=list)  # the label, wrapped so that none is cut
    color: str = ""  # a milestone's star: green done, red late, blue planned
    dashed: bool = False  # a cancelled session's outline


@dataclass
class TimelineRow:
    label: str
    y: float
    marks: list[TimelineMark]
    height: float = 34


@dataclass
class Timeline:
    fiscal_year: int
    width: int
    height: int
    label_width: int
    quarter_width: float
    quarters: tuple[str, ...]
    rows: list[TimelineRow]
    today_x: float | None
    description: str


def timeline(sub: Subcommittee, today: date | None = None) -> Timeline:
    """The fiscal year as the seed's 実施スケジュール draws it, laid out for SVG."""
    today = today or today_local()
    first, after = fiscal_year_bounds(sub.fiscal_year)
    label_w, chart_w, row_h, top = 150, 800, 34, 40
    span = (after - first).days

    def x(day: date) -> float:
        day = min(max(day, first), after)
        return label_w + (day - first).days / span * chart_w

    rows: list[TimelineRow] = []
    lines: list[str] = []

    def add_row(label_text: str, marks: list[TimelineMark]) -> None:
        rows.append(TimelineRow(label_text, 0, marks))

    # One row per milestone: two in one row ran their labels into each other.
    for i, m in enumerate(sub.milestones):
        add_row("マイルストーン" if i == 0 else "", [
            TimelineMark("milestone", m.title, x(m.due_on), 0, quarter_of(m.due_on), m.state(today).value,
                         color=MILESTONE_COLORS[m.state(today)])])
    if not sub.milestones:
        add_row("マイルストーン", [])
    for m in sub.milestones:
        lines.append(f"★ {m.title}: {QUARTER_LABELS[quarter_of(m.due_on) - 1]}"
                     f"（期日 {m.due_on:%Y-%m-%d}、{label(m.state(today))}）")
    for a in sub.activities:
        if a.period is None:
            continue
        start, last = a.period
        end = last + timedelta(days=1)
        add_row(a.label, [TimelineMark("activity", a.title, x(start), x(end) - x(start), quarter_of(start))])
        lines.append(f"{a.label} {a.title}: {start:%Y年%m月}〜{last:%Y年%m月}")
    for s in sub.sessions:
        if s.window is None:
            lines.append(f"分科会{s.circled_number} {s.title}: 未定")
            continue
        start, end = s.window
        width = 0 if s.precision is Precision.DAY else x(end) - x(start)
        add_row(f"分科会{s.circled_number}", [TimelineMark("session", s.title, x(start), width, quarter_of(start),
                                                          s.status.value, dashed=s.status is SessionStatus.CANCELLED)])
        lines.append(f"分科会{s.circled_number} {s.title}: {s.label(with_year=True)}")
    right_edge = label_w + chart_w + 6
    y: float = top
    for row in rows:
        row.y = y
        for mark in row.marks:
            place_label(mark, label_w + 4, right_edge)
            extra = len(mark.lines) - 1 + (1 if mark.kind == "activity" else 0)  # an activity's label is under it
            row.height = max(row.height, row_h + LINE_H * extra)
        y += row.height
    today_x = x(today) if first <= today < after else None
    return Timeline(sub.fiscal_year, label_w + chart_w + 10, int(y) + 10, label_w,
                    chart_w / 4, QUARTER_LABELS, rows, today_x, "\n".join(lines))


LINE_H = 16  # one more line of a wrapped label
GAP = 12  # between a mark and its label


def text_width(text: str, size: float = 13) -> float:
    """Roughly how wide SVG draws the text: full-width characters one em, the rest about half."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.55 for ch in text)


def wrap(text: str, width: float) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if line and text_width(line + ch) > width:
            lines.append(line)
            line = ""
        line += ch
    return [*lines, line] if line else lines


def place_label(mark: TimelineMark, left: float, right: float) -> None:
    """Labels are never cut: an activity's goes under its bar (from its start, or ending at the
    chart's right edge); a milestone's or session's goes on whichever side has room, wrapped
    onto more lines when neither has."""
    needed = text_width(mark.label)
    if mark.kind == "activity":
        mark.label_end = mark.x + needed > right
        room = right - left if mark.label_end else right - mark.x
        mark.lines = wrap(mark.label, room)
        return
    after = right - (mark.x + mark.width + GAP)
    before = mark.x - GAP - left
    if needed <= after:
        mark.label_end, room = False, after
    elif needed <= before:
        mark.label_end, room = True, before
    else:
        mark.label_end, room = before > after, max(before, after)
    mark.lines = wrap(mark.label, room)
