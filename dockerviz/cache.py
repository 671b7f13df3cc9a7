"""Per-layer analysis results cached by diff id (content-addressed, so never stale)."""

from __future__ import annotations


class NullCache:
    def get(self, diff_id):
        return None

    def put(self, diff_id, content):
        pass

    def __bool__(self):
        return False


def default_cache():
    return NullCache()
