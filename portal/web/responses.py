"""Responses of a kind the web layer builds the same way for every domain."""

from __future__ import annotations

from flask import Response


def csv_response(body: bytes, name: str) -> Response:
    """A CSV download (body from ``portal.core.csv.to_csv``); ``name`` without the extension
    (ASCII, it goes in the header as is). Exports hold personal data: never stored by a proxy."""
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={name}.csv", "Cache-Control": "private, no-store"})
