"""Responses of a kind the web layer builds the same way for every domain."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, after_this_request, copy_current_request_context, current_app


def csv_response(body: bytes, name: str) -> Response:
    """A CSV download (body from ``portal.core.csv.to_csv``); ``name`` without the extension
    (ASCII, it goes in the header as is). Exports hold personal data: never stored by a proxy."""
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={name}.csv", "Cache-Control": "private, no-store"})


def after_answer(task: Callable[[], object]) -> None:
    """Run ``task`` once this request's answer has been handed to the server and sent (the WSGI
    close), in a copy of the request's context with its own database session. The answer does
    not wait for it; an error in it is logged, never the client's (the answer is gone)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    @copy_current_request_context
    def run() -> None:
        try:
            task()
        except Exception:
            app.logger.exception("a task after the answer failed")

    @after_this_request
    def attach(response: Response) -> Response:
        response.call_on_close(run)
        return response
