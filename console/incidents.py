"""Tracker store incidents, read from the Rasa server's spool file, for the banner and /incidents.

When the Rasa server cannot write a visitor's turn to the tracker store it keeps the turn in a
SQLite spool (TRACKER_SPOOL_DB, default <VAR_DIR>/tracker-spool.db) and records an incident:

    pending_turns(id, sender_id, queued_at, events, error)  -- one row per turn still waiting
    store_incidents(id, started_at, ended_at, error, turns_kept, turns_written)  -- open while
                                                                                 -- ended_at IS NULL

A written turn leaves pending_turns and counts in turns_written. The console opens the file
read-only (a missing file means no incident; it is never created) and reads only counts, times
and the first line of each error (masked, shortened): never the kept turns themselves.
"""
import logging
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Dict, Optional
from urllib.parse import quote

from console.masking import mask

logger = logging.getLogger("console")
RECENT_DAYS = 30
MAX_ERROR = 300
MAX_LISTED = 1000
TABLES = {"pending_turns", "store_incidents"}


class Unreadable(Exception):
    """The spool exists but could not be read."""


def first_line(error: Optional[str]) -> str:
    """The first non-empty line of an error, shortened and with any phone or e-mail masked (the
    lines after it may quote the SQL parameters, i.e. what a visitor wrote)."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if len(line) > MAX_ERROR:
        line = line[:MAX_ERROR - 1] + "\u2026"
    return mask(line) or ""


def _open(path: Path) -> Optional[sqlite3.Connection]:
    """A read-only connection, or None when there is no spool (yet) or no tables in it."""
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True,
                                     timeout=2)
    except sqlite3.Error as problem:
        raise Unreadable(type(problem).__name__) from problem
    try:
        found = {name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = ? AND name IN (?, ?)",
            ("table", *sorted(TABLES)))}
    except sqlite3.Error as problem:
        connection.close()
        raise Unreadable(type(problem).__name__) from problem
    if found != TABLES:
        connection.close()
        return None
    return connection


def _alert(db: sqlite3.Connection) -> Optional[Dict[str, Any]]:
    pending, oldest_pending = db.execute(
        "SELECT count(*), min(queued_at) FROM pending_turns").fetchone()
    open_started = db.execute(
        "SELECT min(started_at) FROM store_incidents WHERE ended_at IS NULL").fetchone()[0]
    if open_started is None and not pending:
        return None
    # From the start of the open incident, or of the oldest turn still waiting if earlier.
    since = min(t for t in (open_started, oldest_pending) if t is not None)
    # Turns written by the incidents that were going on at any time since then.
    written = db.execute("SELECT coalesce(sum(turns_written), 0) FROM store_incidents "
                         "WHERE ended_at IS NULL OR ended_at >= ?", (since,)).fetchone()[0]
    # The open incident's error (the newest, if several), else the last incident's.
    latest = db.execute("SELECT started_at, error FROM store_incidents "
                        "ORDER BY ended_at IS NULL DESC, started_at DESC LIMIT 1").fetchone()
    error = latest[1] if latest is not None else db.execute(
        "SELECT error FROM pending_turns ORDER BY queued_at DESC LIMIT 1").fetchone()[0]
    return {"since": since, "pending": pending, "written": written, "error": first_line(error)}


def alert(path: Path) -> Optional[Dict[str, Any]]:
    """What the red banner says, or None: {"since", "pending", "written", "error"} while an
    incident is open or turns are waiting; {"unreadable": True} if the spool cannot be read."""
    try:
        connection = _open(path)
        if connection is None:
            return None
        with closing(connection):
            return _alert(connection)
    except (Unreadable, sqlite3.Error) as problem:
        logger.warning("could not read the tracker spool: %s", _name(problem))
        return {"unreadable": True}


def recent(path: Path, days: float = RECENT_DAYS, now: Optional[float] = None) -> Dict[str, Any]:
    """The incidents of the last `days` days (and any still open), newest first, and what waits.
    Raises Unreadable if the spool cannot be read."""
    now = time.time() if now is None else now
    found: Dict[str, Any] = {"days": days, "pending_turns": 0, "oldest_pending_at": None,
                             "incidents": []}
    try:
        connection = _open(path)
        if connection is None:
            return found
        with closing(connection):
            found["pending_turns"], found["oldest_pending_at"] = connection.execute(
                "SELECT count(*), min(queued_at) FROM pending_turns").fetchone()
            rows = connection.execute(
                "SELECT id, started_at, ended_at, error, turns_kept, turns_written "
                "FROM store_incidents WHERE ended_at IS NULL OR started_at >= ? OR ended_at >= ? "
                "ORDER BY started_at DESC, id DESC LIMIT ?",
                (now - days * 86400, now - days * 86400, MAX_LISTED)).fetchall()
    except sqlite3.Error as problem:
        raise Unreadable(_name(problem)) from problem
    found["incidents"] = [_incident(row, now) for row in rows]
    return found


def _incident(row, now: float) -> Dict[str, Any]:
    ident, started, ended, error, kept, written = row
    return {"id": ident, "started_at": started, "ended_at": ended, "open": ended is None,
            "minutes": round(((ended if ended is not None else now) - started) / 60, 1),
            "error": first_line(error), "turns_kept": kept, "turns_written": written}


def _name(problem: Exception) -> str:
    """An exception's class, and its cause's: no message (it may quote what a visitor wrote)."""
    cause = problem.__cause__
    return type(problem).__name__ + (f" ({type(cause).__name__})" if cause else "")
