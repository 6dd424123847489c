"""Seminar materials (資料), through HTTP on a real database and a real upload directory.

The secretariat uploads PDF, PowerPoint, Excel and Word files to a seminar or one of its program
items, each public or for members and observers only. The type is recognized from the content,
never from the name; files are stored under UPLOAD_DIR with a random name and served from
GET /materials/<id> as attachments (Japanese names kept, nosniff). Deleting removes the file.
"""

from __future__ import annotations

import html as html_lib
import io
import re
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from conftest import AuthActions, is_login_redirect, logged_in
from sqlalchemy import select

from portal.core.db import db
from portal.materials.models import Material
from portal.seminars.models import ProgramItem

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAIN_PART = {"docx": "word/document.xml", "pptx": "ppt/presentation.xml", "xlsx": "xl/workbook.xml"}
REFUSED_TYPE = "PDF・PowerPoint（.pptx）・Excel（.xlsx）・Word（.docx）のファイルをアップロードしてください"


# ----------------------------------------------------------------------------- helpers


def zip_of(parts: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def ooxml(kind: str) -> bytes:
    """The smallest Office Open XML package: [Content_Types].xml and the main part."""
    return zip_of({
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?>'
                               '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        MAIN_PART[kind]: '<?xml version="1.0" encoding="UTF-8"?><root/>',
    })


def program_ids(app, seminar_id: int) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(
            select(ProgramItem.id).where(ProgramItem.seminar_id == seminar_id).order_by(ProgramItem.position)))


def materials(app) -> list[Material]:
    with app.app_context():
        rows = list(db.session.scalars(select(Material).order_by(Material.id)))
        db.session.expunge_all()
        return rows


def stored_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "uploads"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def upload(actions: AuthActions, seminar_id: int, filename: str, data: bytes, *, title: str = "",
           public: bool = False, item: int = 0, follow: bool = False):
    form: dict[str, Any] = {"title": title, "file": (io.BytesIO(data), filename), "program_item_id": str(item)}
    if public:
        form["public"] = "y"
    return actions.post(f"/secretariat/seminars/{seminar_id}/materials", form,
                        content_type="multipart/form-data", follow_redirects=follow)


def secretariat(create_user, auth: AuthActions) -> Any:
    user = create_user("secretariat", org=None)
    assert auth.login(user).status_code == 302
    return user


def download(client, material_id: int):
    """GET the material and read it all (closing the file behind it)."""
    response = client.get(f"/materials/{material_id}")
    response.get_data()
    response.close()
    return response


def disposition_filename(header: str) -> str:
    """The UTF-8 file name of a Content-Disposition header (RFC 6266 filename*)."""
    match = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    assert match, header
    return unquote(match.group(1))


def flashes(html: str) -> str:
    return " ".join(html_lib.unescape(m) for m in re.findall(r'class="flash[^"]*"[^>]*>(.*?)</p>', html, re.S))


# ----------------------------------------------------------------------------- uploads and downloads


def test_members_only_pdf_stored_and_served_as_an_attachment(app, client, auth, create_user, tmp_path, make_seminar):
    seminar_id = make_seminar("pdf")
    member, observer = create_user("member"), create_user("observer", org="テスト株式会社")
    secretariat(create_user, auth)

    response = upload(auth, seminar_id, "../../当日資料（前橋市）.pdf", PDF)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/secretariat/seminars/{seminar_id}"

    (material,) = materials(app)
    assert (material.seminar_id, material.program_item_id, material.public) == (seminar_id, None, False)
    assert (material.filename, material.title) == ("当日資料（前橋市）.pdf", "当日資料（前橋市）.pdf")
    assert (material.content_type, material.size) == ("application/pdf", len(PDF))
    (stored,) = stored_files(tmp_path)
    assert stored.parent == tmp_path / "uploads" and stored.name == material.stored_name
    assert stored.read_bytes() == PDF
    assert "前橋" not in stored.name and not stored.name.endswith(".pdf")
    manage = client.get(f"/secretariat/seminars/{seminar_id}").get_data(as_text=True)
    assert "当日資料（前橋市）.pdf" in manage and "会員限定" in manage

    # Visitors are sent to log in; members and observers download it.
    visitor = app.test_client()
    assert is_login_redirect(download(visitor, material.id))
    for account in (member, observer):
        response = download(logged_in(app, account).client, material.id)
        assert response.status_code == 200, account.role
        assert response.data == PDF
        assert response.mimetype == "application/pdf"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment")
        assert disposition_filename(disposition) == "当日資料（前橋市）.pdf"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "public" not in response.headers.get("Cache-Control", "")

    # The public page names it, with a link only for those who may download it.
    public = visitor.get(f"/seminars/{seminar_id}").get_data(as_text=True)
    assert "当日資料（前橋市）.pdf" in public and "会員・オブザーバー限定" in public
    assert f"/materials/{material.id}" not in public
    member_page = logged_in(app, member).client.get(f"/seminars/{seminar_id}").get_data(as_text=True)
    assert f'href="/materials/{material.id}"' in member_page


def test_public_material_downloads_for_visitors(app, client, auth, create_user, make_seminar):
    seminar_id = make_seminar("public")
    secretariat(create_user, auth)

    data = ooxml("xlsx")
    upload(auth, seminar_id, "スケジュール.xlsx", data, title="年間スケジュール", public=True)

    (material,) = materials(app)
    assert (material.title, material.public) == ("年間スケジュール", True)
    visitor = app.test_client()
    response = download(visitor, material.id)
    assert response.status_code == 200
    assert response.data == data
    assert response.mimetype == MIME["xlsx"]
    assert disposition_filename(response.headers["Content-Disposition"]) == "スケジュール.xlsx"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = visitor.get(f"/seminars/{seminar_id}").get_data(as_text=True)
    assert f'href="/materials/{material.id}"' in page and "年間スケジュール" in page
    assert "一般公開" in client.get(f"/secretariat/seminars/{seminar_id}").get_data(as_text=True)


def test_office_files_recognized_from_their_content(app, client, auth, create_user, tmp_path, make_seminar):
    seminar_id = make_seminar("ooxml")
    member = create_user("member")
    secretariat(create_user, auth)
    files = {kind: ooxml(kind) for kind in ("docx", "pptx", "xlsx")}

    for kind, data in files.items():
        response = upload(auth, seminar_id, f"発表資料.{kind}", data, follow=True)
        assert "資料をアップロードしました" in flashes(response.get_data(as_text=True)), kind

    found = {m.filename: m for m in materials(app)}
    assert set(found) == {"発表資料.docx", "発表資料.pptx", "発表資料.xlsx"}
    reader = logged_in(app, member).client
    for kind, data in files.items():
        material = found[f"発表資料.{kind}"]
        assert (material.content_type, material.size) == (MIME[kind], len(data))
        response = download(reader, material.id)
        assert response.status_code == 200
        assert (response.data, response.mimetype) == (data, MIME[kind])
    assert len(stored_files(tmp_path)) == 3


def test_a_word_file_named_pdf_is_stored_as_docx(app, client, auth, create_user, make_seminar):
    seminar_id = make_seminar("renamed")
    secretariat(create_user, auth)

    upload(auth, seminar_id, "報告書.pdf", ooxml("docx"), public=True)

    (material,) = materials(app)
    assert (material.filename, material.content_type) == ("報告書.docx", MIME["docx"])
    response = download(app.test_client(), material.id)
    assert response.mimetype == MIME["docx"]
    assert disposition_filename(response.headers["Content-Disposition"]) == "報告書.docx"


def test_files_that_are_not_documents_are_refused_with_a_clear_message(
    app, client, auth, create_user, tmp_path, make_seminar
):
    seminar_id = make_seminar("refused")
    secretariat(create_user, auth)
    cases = [
        ("資料.pdf", "これはPDFではありません。\n".encode(), REFUSED_TYPE),
        ("資料.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, REFUSED_TYPE),
        ("資料.docx", zip_of({"word/document.xml": "<root/>"}), REFUSED_TYPE),  # no [Content_Types].xml
        ("資料.pptx", zip_of({"[Content_Types].xml": "<Types/>", "content.xml": "<x/>"}), REFUSED_TYPE),
        ("資料.xlsx", b"PK\x03\x04 not really a zip", REFUSED_TYPE),
        ("資料.pdf", b"", "ファイル"),
    ]
    for filename, data, message in cases:
        response = upload(auth, seminar_id, filename, data, follow=True)
        assert response.status_code == 200, data[:16]
        shown = flashes(response.get_data(as_text=True))
        assert message in shown, (data[:16], shown)
        assert "資料をアップロードしました" not in shown

    # No file at all.
    response = auth.post(f"/secretariat/seminars/{seminar_id}/materials", {"title": "", "program_item_id": "0"},
                         follow_redirects=True)
    assert "ファイルを選んでください" in flashes(response.get_data(as_text=True))

    assert materials(app) == []
    assert stored_files(tmp_path) == []


def test_size_limit(make_app, create_user, tmp_path, make_seminar):
    create_user("member")  # builds the default app first, which prepares the database
    small = make_app(MATERIAL_MAX_BYTES=1024)
    seminar_id = make_seminar("size")
    client = small.test_client()
    actions = AuthActions(client)
    actions.login(create_user("secretariat", org=None))

    at_limit = PDF[:9] + b"0" * (1024 - 9)
    too_big = at_limit + b"0"
    accepted = upload(actions, seminar_id, "ちょうど.pdf", at_limit, follow=True)
    assert "資料をアップロードしました" in flashes(accepted.get_data(as_text=True))
    refused = upload(actions, seminar_id, "大きすぎ.pdf", too_big, follow=True)
    shown = flashes(refused.get_data(as_text=True))
    assert "大きすぎ" in shown and "資料をアップロードしました" not in shown

    assert [(m.filename, m.size) for m in materials(small)] == [("ちょうど.pdf", 1024)]
    assert [p.stat().st_size for p in stored_files(tmp_path)] == [1024]


def test_material_for_a_program_item(app, client, auth, create_user, make_seminar):
    seminar_id = make_seminar("item", program=[
        {"start": "15:30", "title": "イントロダクション"}, {"start": "15:45", "title": "前橋市の取組紹介"}])
    other_id = make_seminar("item-other", program=[{"start": "10:00", "title": "別セミナーの項目"}])
    intro, talk = program_ids(app, seminar_id)
    (foreign,) = program_ids(app, other_id)
    secretariat(create_user, auth)
    manage = client.get(f"/secretariat/seminars/{seminar_id}").get_data(as_text=True)
    assert f'<option value="{talk}">' in manage and "前橋市の取組紹介" in manage

    upload(auth, seminar_id, "前橋市.pdf", PDF, item=talk, public=True)
    upload(auth, seminar_id, "紛れ込み.pdf", PDF, item=foreign, public=True)

    by_name = {m.filename: m for m in materials(app)}
    assert (by_name["前橋市.pdf"].seminar_id, by_name["前橋市.pdf"].program_item_id) == (seminar_id, talk)
    # An item of another seminar is not taken: the file belongs to the seminar as a whole.
    assert (by_name["紛れ込み.pdf"].seminar_id, by_name["紛れ込み.pdf"].program_item_id) == (seminar_id, None)
    assert "前橋市.pdf" in app.test_client().get(f"/seminars/{seminar_id}").get_data(as_text=True)

    # Removing the item keeps its material, now for the seminar as a whole.
    assert auth.post(f"/secretariat/program/{talk}/delete").status_code == 302
    with app.app_context():
        material = db.session.get(Material, by_name["前橋市.pdf"].id)
        assert material is not None and material.program_item_id is None
    assert download(app.test_client(), by_name["前橋市.pdf"].id).status_code == 200
    assert intro in program_ids(app, seminar_id)


def test_deleting_a_material_removes_its_file(app, client, auth, create_user, tmp_path, make_seminar):
    seminar_id = make_seminar("delete")
    secretariat(create_user, auth)
    upload(auth, seminar_id, "消す.pdf", PDF, public=True)
    upload(auth, seminar_id, "残す.pptx", ooxml("pptx"), public=True)
    doomed, kept = materials(app)
    assert len(stored_files(tmp_path)) == 2

    response = auth.post(f"/secretariat/materials/{doomed.id}/delete")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/secretariat/seminars/{seminar_id}"
    assert [m.id for m in materials(app)] == [kept.id]
    assert [p.name for p in stored_files(tmp_path)] == [kept.stored_name]
    assert download(client, doomed.id).status_code == 404
    assert download(client, kept.id).status_code == 200
    assert "消す.pdf" not in client.get(f"/secretariat/seminars/{seminar_id}").get_data(as_text=True)
    assert auth.post(f"/secretariat/materials/{doomed.id}/delete").status_code == 404


def test_materials_of_a_draft_seminar_are_not_served_to_others(app, client, auth, create_user, make_seminar):
    """A draft is invisible to everyone but the secretariat (404), and so are its files."""
    seminar_id = make_seminar("draft", status="draft")
    member = create_user("member")
    secretariat(create_user, auth)
    upload(auth, seminar_id, "未公開.pdf", PDF, public=True)
    upload(auth, seminar_id, "未公開（会員）.pdf", PDF, public=False)
    public_one, members_one = materials(app)

    assert download(client, public_one.id).status_code == 200
    assert download(client, members_one.id).status_code == 200
    visitor, member_client = app.test_client(), logged_in(app, member).client
    for viewer in (visitor, member_client):
        assert viewer.get(f"/seminars/{seminar_id}").status_code == 404
        assert download(viewer, public_one.id).status_code == 404
    assert download(visitor, members_one.id).status_code in (302, 404)  # logging in would not help
    assert download(member_client, members_one.id).status_code == 404


def test_upload_and_delete_are_for_the_secretariat_only(app, client, auth, create_user, tmp_path, make_seminar):
    seminar_id = make_seminar("access")
    secretariat(create_user, auth)
    upload(auth, seminar_id, "既存.pdf", PDF, public=True)
    (existing,) = materials(app)

    for account in (None, create_user("member"), create_user("observer", org="オブザーバー株式会社")):
        actions = logged_in(app, account)
        responses = [
            upload(actions, seminar_id, "侵入.pdf", PDF, public=True),
            actions.post(f"/secretariat/materials/{existing.id}/delete"),
        ]
        for response in responses:
            if account is None:
                assert is_login_redirect(response)
            else:
                assert response.status_code == 403, account.role

    assert [m.id for m in materials(app)] == [existing.id]
    assert [p.name for p in stored_files(tmp_path)] == [existing.stored_name]


def test_unknown_material_is_404(client):
    assert download(client, 999999).status_code == 404
