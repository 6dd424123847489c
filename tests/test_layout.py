"""The layout keeps one home per job (README "Layout"): these checks read the code itself, so a
second SEQUENCE rule, a hand-written rollback or a request object in the core fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PORTAL = Path(__file__).resolve().parent.parent / "portal"
TEMPLATES = PORTAL.parent / "templates"


def sources(under: Path = PORTAL) -> dict[str, str]:
    return {str(p.relative_to(PORTAL.parent)): p.read_text() for p in sorted(under.rglob("*.py"))}


def imports_of(text: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


REQUEST_SIDE = {"flask.request", "flask.session", "flask.g", "flask.has_request_context", "flask.flash",
                "flask.redirect", "flask.render_template", "flask.abort"}


def test_the_core_has_no_request_objects_and_knows_no_domain():
    for path, text in sources(PORTAL / "core").items():
        for name in imports_of(text):
            assert name not in REQUEST_SIDE and not name.startswith(("portal.web", "flask_login", "flask_wtf")), \
                f"{path} imports {name}"
            domain = name.split(".")[1] if name.startswith("portal.") and name.count(".") >= 1 else None
            assert domain in (None, "core"), f"{path} imports {name}"


def test_one_sequence_rule():
    found = [path for path, text in sources().items()
             if re.search(r"\.sequence\s*(\+=|=)", text) and path != "portal/calendar/sequence.py"]
    assert found == [], f"SEQUENCE changed outside portal/calendar/sequence.py: {found}"


def test_one_unit_of_work():
    # The two units of work (requests, CLI/jobs), the error handler, the health probe (it must
    # answer 503, not raise) and the delivery loop that outlives any one failure.
    allowed = {"portal/web/uow.py", "portal/core/db.py", "portal/__init__.py", "portal/public/views.py",
               "portal/mail/cli.py"}
    found = [path for path, text in sources().items() if "session.rollback()" in text and path not in allowed]
    assert found == [], f"hand-written rollbacks (use web.uow.unit_of_work or core.db.transaction): {found}"


def test_one_expected_error_type():
    found = [f"{path}: {name}" for path, text in sources().items()
             for name in re.findall(r"^class (\w+)\((?:Exception|ValueError|RuntimeError)\)", text, re.M)
             if path != "portal/core/errors.py" and name not in {"ConfigError", "WriteInReadOnlyView"}]
    assert found == [], f"exception classes besides DomainError: {found}"


def test_absolute_urls_only_through_external_url_for():
    found = [path for path, text in sources().items() if re.search(r"external_url\(f[\"']", text)]
    assert found == [], f"absolute URLs built with f-strings: {found}"


def test_no_package_attaches_routes_to_another_packages_blueprint():
    for path, text in sources().items():
        for name in imports_of(text):
            if name.endswith(".bp") and name.split(".")[1] != path.split("/")[1]:
                assert path in {"portal/secretariat/views.py", "portal/__init__.py"} and "register_blueprint" in text, \
                    f"{path} imports {name}"


def test_templates_hold_no_rules():
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        assert not re.search(r"\{\s*\"[a-z_]+\"\s*:\s*_\(", text), f"{path.name}: an inline label table (use |label)"
        assert "can(" not in text, f"{path.name}: an access rule in a template (the view hands a flag)"
