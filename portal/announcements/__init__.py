"""Announcements (開催案内): a seminar announced to a segment of accounts, now or at a set time,
through the one outbox; every one carries a one-click unsubscribe (RFC 8058)."""
