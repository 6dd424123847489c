"""Presenters as the back office types them: one a line, ``[項目番号:] 組織 / 部署 / 氏名``."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from portal.seminars.models import HONORIFIC, Presenter, ProgramItem


@dataclass
class PresenterLine:
    organization: str
    department: str | None = None
    person: str | None = None
    point: int | None = None  # index of the point (内容) they present; None: the whole item
    honorific: str = HONORIFIC


# "2: 総務省 / …" presents the item's second point (full-width digits and colon too).
# One or two digits: an organization such as "2030：未来会議" is not a point number.
_POINT_PREFIX = re.compile(r"\s*([0-9０-９]{1,2})\s*[:：]\s*")


def parse_presenters(text: str | None) -> list[PresenterLine]:
    """One presenter a line: [項目番号:] 組織 / 部署 / 氏名 (all but the organization optional)."""
    result = []
    for line in (text or "").splitlines():
        point = None
        prefix = _POINT_PREFIX.match(line)
        if prefix:
            point = int(unicodedata.normalize("NFKC", prefix.group(1))) - 1
            line = line[prefix.end():]
        parts: list[str | None] = [p.strip() for p in line.replace("／", "/").split("/")]
        if not parts[0]:
            continue
        parts += [None] * (3 - len(parts))
        result.append(PresenterLine(parts[0] or "", parts[1] or None, parts[2] or None, point))
    return result


def presenters_text(item: ProgramItem) -> str:
    """The presenters as the form edits them: what ``parse_presenters`` reads back unchanged."""
    def line(x: Presenter) -> str:
        parts = [x.organization, x.department or "", x.person or ""]
        while parts[-1] == "":  # a person without a department keeps its empty slot: "組織 /  / 氏名"
            parts.pop()
        return ("" if x.point_index is None else f"{x.point_index + 1}: ") + " / ".join(parts)

    return "\n".join(line(x) for x in item.presenters)


def lines(text: str | None) -> list[str]:
    """The non-blank lines of a text area, stripped (points, notes)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]
