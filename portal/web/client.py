"""Who is asking: the client's address, for rate limits and the audit log alike.

One helper so both see the same address. Behind trusted reverse proxies, Werkzeug's ProxyFix
(wrapped around the app at start) has already replaced ``remote_addr`` with the forwarded one.
"""

from __future__ import annotations

from flask import request


def client_address() -> str:
    return request.remote_addr or "unknown"
