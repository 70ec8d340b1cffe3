"""Copies conversations from one Rasa SQL tracker store to another: `make run`'s SQLite file into
the cluster's PostgreSQL (README, "Deploy").

    PGPASSWORD=$(cat var/cluster/tracker-db-password) .venv/bin/python -m scripts.migrate_tracker \\
        --from sqlite:///var/tracker.db --to postgresql://clinic@127.0.0.1:5433/clinic

Leave the password out of the URL (a command line is readable by every local user): libpq reads
PGPASSWORD. What it does, in one transaction on the target (all or nothing):
- makes Rasa's `events` table there if it is missing (Rasa's own schema);
- copies every event of each conversation the target does not have yet, in the order of the
  source's ids (Rasa reads a conversation in id order, and decides what is new by counting its
  rows, so a conversation is copied whole or not at all, never merged with one already there);
- keeps the source's ids when the target is empty (and moves PostgreSQL's id sequence past
  them), else lets the target number the rows, in the same order;
- checks afterwards that each copied conversation has the same events in the same order.
A second run copies nothing. It refuses to run while the spool file (--spool, default
TRACKER_SPOOL_DB or var/tracker-spool.db) holds turns not yet written to the source: start
`make run` once so they are written, then stop it and migrate. Run it with the servers stopped.
"""
import argparse
import hashlib
import sqlite3
from pathlib import Path
from typing import Dict, Iterable, List, Set

BATCH = 5000


def events_table():
    from rasa.core.tracker_store import SQLTrackerStore

    return SQLTrackerStore.SQLEvent.__table__


def pending_turns(spool: Path) -> int:
    if not spool.exists():
        return 0
    with sqlite3.connect(f"file:{spool}?mode=ro", uri=True) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM pending_turns").fetchone()[0]
        except sqlite3.OperationalError:  # no such table: nothing was ever spooled
            return 0


def fingerprints(connection, table, senders: Iterable[str]) -> Dict[str, str]:
    """Each conversation's events in id order, hashed (the ids themselves left out)."""
    from sqlalchemy import select

    digests: Dict[str, "hashlib._Hash"] = {}
    wanted = list(senders)
    for start in range(0, len(wanted), 500):
        query = (select(table.c.sender_id, table.c.type_name, table.c.timestamp,
                        table.c.intent_name, table.c.action_name, table.c.data)
                 .where(table.c.sender_id.in_(wanted[start:start + 500]))
                 .order_by(table.c.sender_id, table.c.id))
        for row in connection.execute(query):
            digest = digests.setdefault(row[0], hashlib.sha256())
            digest.update(repr(tuple(row[1:])).encode("utf-8"))
    return {sender: digest.hexdigest() for sender, digest in digests.items()}


def migrate(source_url: str, target_url: str, dry_run: bool = False) -> Dict[str, int]:
    from sqlalchemy import create_engine, func, inspect, select, text

    table = events_table()
    source = create_engine(source_url, future=True)
    target = create_engine(target_url, future=True)
    try:
        if not inspect(source).has_table(table.name):
            raise SystemExit(f"migrate_tracker: {safe(source_url)} has no `events` table")
        if not dry_run:
            table.metadata.create_all(target)
        with source.connect() as src, target.begin() as dst:
            if dry_run and not inspect(dst).has_table(table.name):
                present: Set[str] = set()
                empty = True
            else:
                present = set(dst.execute(select(table.c.sender_id).distinct()).scalars())
                empty = dst.execute(select(func.count()).select_from(table)).scalar() == 0
            order = (select(table.c.sender_id, func.min(table.c.id).label("first_id"))
                     .group_by(table.c.sender_id).order_by(text("first_id")))
            every = [sender for sender, _ in src.execute(order)]
            senders = [sender for sender in every if sender not in present]
            wanted = set(senders)
            copied = 0
            if not dry_run and senders:
                columns = [c.name for c in table.columns if empty or c.name != "id"]
                rows = src.execution_options(stream_results=True).execute(
                    select(table).order_by(table.c.id))
                batch: List[dict] = []
                for row in rows:
                    if row.sender_id not in wanted:
                        continue
                    batch.append({name: row._mapping[name] for name in columns})
                    if len(batch) >= BATCH:
                        dst.execute(table.insert(), batch)
                        copied += len(batch)
                        batch = []
                if batch:
                    dst.execute(table.insert(), batch)
                    copied += len(batch)
                if empty and dst.dialect.name == "postgresql":
                    dst.execute(text("SELECT setval(pg_get_serial_sequence('events', 'id'), "
                                     "(SELECT MAX(id) FROM events))"))
                if fingerprints(src, table, senders) != fingerprints(dst, table, senders):
                    raise RuntimeError("the copied conversations differ from the source; "
                                       "nothing was written")
            elif dry_run:
                copied = src.execute(select(func.count()).select_from(table).where(
                    table.c.sender_id.in_(senders))).scalar() if senders else 0
        return {"conversations": len(senders), "events": copied,
                "skipped": len(every) - len(senders), "kept_ids": int(empty)}
    finally:
        source.dispose()
        target.dispose()


def safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main(argv: List[str] = None) -> None:
    from stores import spool_path

    parser = argparse.ArgumentParser(prog="python -m scripts.migrate_tracker",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", required=True,
                        help="SQLAlchemy URL of the store to copy, e.g. sqlite:///var/tracker.db")
    parser.add_argument("--to", dest="target", required=True,
                        help="SQLAlchemy URL of the store to fill, without the password "
                             "(PGPASSWORD), e.g. postgresql://clinic@127.0.0.1:5433/clinic")
    parser.add_argument("--spool", type=Path, default=None,
                        help="the source's spool file (default TRACKER_SPOOL_DB, else "
                             "<VAR_DIR>/tracker-spool.db)")
    parser.add_argument("--dry-run", action="store_true", help="count, copy nothing")
    args = parser.parse_args(argv)
    waiting = pending_turns(args.spool or spool_path())
    if waiting:
        raise SystemExit(f"migrate_tracker: {waiting} turns are still waiting in the spool file "
                         f"{args.spool or spool_path()}: start `make run` once so they are "
                         f"written to the source, stop it, then migrate")
    done = migrate(args.source, args.target, args.dry_run)
    verb = "Would copy" if args.dry_run else "Copied"
    print(f"{verb} {done['conversations']} conversations ({done['events']} events) from "
          f"{safe(args.source)} to {safe(args.target)}"
          + (", keeping their ids" if done["kept_ids"] and done["events"] else "")
          + (f"; {done['skipped']} conversations already there were left alone"
             if done["skipped"] else "") + ".")


if __name__ == "__main__":
    main()
