"""Materials: uploads checked by content (not by name) and size, stored under instance/.

A refused upload raises ``DomainError`` (field ``file``); nothing here commits.
"""

from __future__ import annotations

import io
import os
import secrets
import unicodedata
import zipfile
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.core.db import db
from portal.core.errors import DomainError
from portal.materials.models import Material

# What we accept, recognized from the bytes: PDF and the Office Open XML formats.
KINDS = {
    "pdf": ("application/pdf", "PDF"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "PowerPoint"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word"),
}
OOXML_MAIN_PART = {"ppt/presentation.xml": "pptx", "xl/workbook.xml": "xlsx", "word/document.xml": "docx"}


def detect_kind(data: bytes) -> str | None:
    """'pdf', 'pptx', 'xlsx', 'docx' from the content, or None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names:
            for part, kind in OOXML_MAIN_PART.items():
                if part in names:
                    return kind
    return None


def clean_filename(name: str, kind: str) -> str:
    """Keep the uploader's name for downloads (Japanese included), minus paths and controls."""
    name = unicodedata.normalize("NFC", os.path.basename((name or "").replace("\\", "/")))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .") or "document"
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem[:150]}.{kind}"


def upload_dir() -> Path:
    path = Path(current_app.config["UPLOAD_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_material(stream: IO[bytes], filename: str, *, title: str, public: bool,
                  uploaded_by_id: int | None, **owner: Any) -> Material:
    """Check and store an upload; ``owner`` is seminar_id, program_item_id or subcommittee_id."""
    limit = current_app.config["MATERIAL_MAX_BYTES"]
    data = stream.read(limit + 1)
    if not data:
        raise DomainError(_l("ファイルが空です。"), field="file")
    if len(data) > limit:
        if limit >= 1024 * 1024:
            raise DomainError(_l("ファイルが大きすぎます（上限 %(size)s）。", size=f"{limit / (1024 * 1024):g} MB"),
                              field="file")
        raise DomainError(_l("ファイルが大きすぎます（上限 %(size)s バイト）。", size=f"{limit:,}"), field="file")
    kind = detect_kind(data)
    if kind is None:
        raise DomainError(
            _l("PDF・PowerPoint（.pptx）・Excel（.xlsx）・Word（.docx）のファイルをアップロードしてください。"),
            field="file")
    stored_name = secrets.token_hex(16)
    (upload_dir() / stored_name).write_bytes(data)
    material = Material(
        title=title.strip() or clean_filename(filename, kind), filename=clean_filename(filename, kind),
        stored_name=stored_name, content_type=KINDS[kind][0], size=len(data), public=public,
        uploaded_by_id=uploaded_by_id, **owner,
    )
    db.session.add(material)
    return material


def path_of(material: Material) -> Path:
    return upload_dir() / material.stored_name


def delete_material(material: Material) -> None:
    path = path_of(material)
    db.session.delete(material)
    db.session.flush()
    path.unlink(missing_ok=True)
