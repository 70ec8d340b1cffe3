"""Rasa tracker stores of the clinic assistant (named in endpoints.yml), and where the servers
keep their files: read by the Rasa server's store and by the console, which must agree."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def var_dir() -> Path:
    """VAR_DIR when set, else var/ in the repo (read at each call)."""
    return Path(os.environ.get("VAR_DIR") or ROOT / "var").resolve()


def spool_path() -> Path:
    """The SQLite spool of turns the tracker store could not take (stores/spooling_sql.py):
    TRACKER_SPOOL_DB, else <VAR_DIR>/tracker-spool.db."""
    return Path(os.environ.get("TRACKER_SPOOL_DB") or var_dir() / "tracker-spool.db")
