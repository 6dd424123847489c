"""Q&A as CSV for the secretariat (Excel-safe through ``core.csv``)."""

from __future__ import annotations

from portal.core.csv import to_csv
from portal.core.dates import to_local
from portal.core.labels import label
from portal.qa.queries import all_questions
from portal.seminars.models import Seminar

HEADER = ["日時", "質問", "プログラム項目", "質問者", "所属団体", "匿名", "投票数", "状態", "区分", "事務局へ送付",
          "回答"]


def questions_csv(seminar: Seminar) -> bytes:
    """Every question with its asker, also an anonymous one's (the secretariat's own export)."""
    rows = [
        [
            to_local(q.created_at).strftime("%Y-%m-%d %H:%M"), q.body,
            q.program_item.title if q.program_item else "", q.author.name,
            q.author.organization.name if q.author.organization else "", "はい" if q.anonymous else "",
            q.vote_count, label(q.state), "追加質問" if q.followup else "",
            to_local(q.routed_at).strftime("%Y-%m-%d %H:%M") if q.routed_at else "", q.answer or "",
        ]
        for q in all_questions(seminar)
    ]
    return to_csv(HEADER, rows)
