"""The attendance report a webinar exports (Zoom's attendee report, Teams' attendance list): the
addresses of the people who attended, read from its e-mail column.

Such files are CSV in UTF-8 (with or without BOM), Shift_JIS/cp932 (Excel in Japan) or UTF-16
(Teams), comma- or tab-separated, and often hold several sections (host, panelists,
attendees), each with its own header row: every row under a header that has an e-mail column
is read. A column 出席/Attended (Zoom lists registrants who never came, with "No") is honoured.
"""

from __future__ import annotations

import csv
import io
import re

from flask_babel import lazy_gettext as _l

from portal.core.errors import DomainError

MAX_BYTES = 5 * 1024 * 1024
EMAIL_HEADERS = {"email", "e-mail", "emailaddress", "e-mailaddress", "メール", "メールアドレス", "eメール",
                 "eメールアドレス", "電子メール", "電子メールアドレス", "ユーザーのメール", "参加者のメール"}
ATTENDED_HEADERS = {"attended", "出席", "出席済み", "出席した", "参加済み"}
NOT_ATTENDED = {"no", "いいえ", "false", "0", "欠席", "n"}
ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


def _header(cell: str) -> str:
    """A header cell as compared: lower case, no spaces, no parenthesised note (Email (Original))."""
    return re.sub(r"[\s\u3000]+|[(（].*?[)）]", "", cell).lower()


def decode(data: bytes) -> str:
    """The file's text; a DomainError when it is none of the encodings webinars export."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ["utf-16"]
    elif data.startswith(b"\xef\xbb\xbf"):
        encodings = ["utf-8-sig"]
    else:
        encodings = ["utf-8", "cp932"]
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DomainError(_l("ファイルの文字コードを読み取れません（UTF-8 または Shift_JIS の CSV を選んでください）。"),
                      field="file")


def attendee_addresses(data: bytes) -> list[str]:
    """Each attendee's address once (lower case), in file order. A file with no e-mail column,
    no attendee, or a value in that column that is not an address is refused whole."""
    if not data.strip():
        raise DomainError(_l("ファイルが空です。"), field="file")
    if len(data) > MAX_BYTES:
        raise DomainError(_l("ファイルが大きすぎます（5MBまで）。"), field="file")
    text = decode(data)
    if "\x00" in text:
        raise DomainError(_l("CSVファイルではありません。"), field="file")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if text.count("\t") > text.count(",") or ("\t" in first and "," not in first) else ","
    email_at: int | None = None
    attended_at: int | None = None
    found: dict[str, None] = {}
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise DomainError(_l("CSVとして読み取れません（%(error)s）。", error=str(error)), field="file") from None
    for line, row in enumerate(rows, start=1):
        headers = [_header(cell) for cell in row]
        emails = [i for i, h in enumerate(headers) if h in EMAIL_HEADERS]
        if emails:  # a (new) section's header row
            email_at = emails[0]
            attended_at = next((i for i, h in enumerate(headers) if h in ATTENDED_HEADERS), None)
            continue
        if email_at is None or len(row) <= email_at:
            continue  # before any header, a section's title, a blank line
        value = row[email_at].strip()
        if not value:
            continue  # a guest who joined without an address
        if not ADDRESS.match(value):
            raise DomainError(_l("%(line)s行目：メールアドレスの列に「%(value)s」とあります。"
                                 "ファイルを確認してください。", line=line, value=value[:60]), field="file")
        said = row[attended_at].strip().lower() if attended_at is not None and len(row) > attended_at else ""
        if said in NOT_ATTENDED:
            continue  # listed, but did not come
        found[value.lower()] = None
    if email_at is None:
        raise DomainError(_l("メールアドレスの列（Email・メールアドレス）が見つかりません。"
                             "ウェビナーの出席レポートのCSVを選んでください。"), field="file")
    if not found:
        raise DomainError(_l("出席者の行がありません。"), field="file")
    return list(found)
