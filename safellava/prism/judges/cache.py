"""An on-disk cache of judge replies, so rescoring the same responses with the same judge costs nothing.

Keyed by a hash of (judge identity, kind, the full judge prompt — which contains the question and the
response). Only replies that parsed are stored: failures are retried on the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path


def default_cache_path() -> Path:
    """`$XDG_CACHE_HOME/safellava/prism_judge_cache.sqlite` (default `~/.cache/...`)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "safellava" / "prism_judge_cache.sqlite"


def cache_key(judge: str, kind: str, prompt: str) -> str:
    return hashlib.sha256(json.dumps([judge, kind, prompt], ensure_ascii=False).encode()).hexdigest()


class JudgeCache:
    """A small SQLite table of replies; safe to share between threads of one process."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS replies ("
                "key TEXT PRIMARY KEY, judge TEXT NOT NULL, kind TEXT NOT NULL, reply TEXT NOT NULL, "
                "created REAL NOT NULL)"
            )
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return row[0]

    def put(self, key: str, judge: str, kind: str, reply: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO replies (key, judge, kind, reply, created) VALUES (?, ?, ?, ?, ?)",
                (key, judge, kind, reply, time.time()),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
