"""@read_only views (portal.web.reads): public pages and feeds read outside a transaction, and a
write attempted in such a view fails and leaves the database as it was."""

from __future__ import annotations

import pytest
from flask import Blueprint
from sqlalchemy import func, select, update

from portal.core.db import db
from portal.seminars.models import SeminarSeries
from portal.web.reads import WriteInReadOnlyView, read_only


@pytest.fixture
def probe_app(make_app):
    app = make_app()
    bp = Blueprint("read_only_probe", __name__)

    @bp.get("/probe/add")
    @read_only
    def add():
        db.session.add(SeminarSeries(name="書いてはいけないシリーズ", fiscal_year=2021))
        db.session.commit()
        return "written"

    @bp.get("/probe/update")
    @read_only
    def bulk_update():
        db.session.execute(update(SeminarSeries).values(name="一括で書き換え"))
        db.session.commit()
        return "written"

    @bp.get("/probe/read")
    @read_only
    def read():
        return str(db.session.scalar(select(func.count(SeminarSeries.id))))

    app.register_blueprint(bp)
    with app.app_context():
        db.session.add(SeminarSeries(name="既存のシリーズ", fiscal_year=2021))
        db.session.commit()
    return app


@pytest.mark.parametrize("path", ["/probe/add", "/probe/update"])
def test_a_write_in_a_read_only_view_fails_and_changes_nothing(probe_app, path):
    client = probe_app.test_client()
    with pytest.raises(WriteInReadOnlyView):
        client.get(path)
    with probe_app.app_context():
        assert db.session.scalars(select(SeminarSeries.name)).all() == ["既存のシリーズ"]
    assert client.get("/probe/read").text == "1"  # the next request reads normally

