"""Scale measurement for the console (not part of `make test` nor `make bench`), run from the
repository root (it drives the console tests' scenarios, tests/console/conftest.py):

    .venv/bin/python -m bench.console_scale --conversations 100000 --out /tmp/console-scale

1. records real conversations: starts the real action and Rasa servers and drives the test
   scenarios (tests/console/conftest.py SCENARIOS) plus a few more over the REST channel;
2. builds a tracker store of N conversations by cloning those recorded event rows with new sender
   ids and times spread over a year (visitor texts get one of a few hundred extra words, so
   search has something to tell apart);
3. starts the real console on it, times the first full index, then times every page and filter
   over HTTP (median of several requests, logged in) and prints a Markdown table.

With --postgres, the tracker events and the console's own tables are both in PostgreSQL: a
scratch server of its own (started as the console's tests start one: scripts/cluster.Postgres on
a free loopback port, data under /tmp, deleted afterwards), or the empty scratch database a URL
names (`--postgres postgresql://clinic@host:port/db`, the password in PGPASSWORD; its console_*
tables are dropped first). The events are copied there by scripts/migrate_tracker.py, the first
full index is timed, then every page; then the trigram index of search (console/db.py
create_trigram_index) is dropped, the searches are timed again without it (what PostgreSQL did
before it), and it is made again (timed), and the searches timed once more:

    .venv/bin/python -m bench.console_scale --conversations 100000 --out /tmp/console-scale \
        --reuse --postgres
"""
import argparse
import json
import random
import secrets
import sqlite3
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import requests

from console import auth, indexer
from console.db import (
    TRIGRAM_INDEX, Databases, create_trigram_index, has_trigram_index, metadata, sqlite_url,
)
from scripts import migrate_tracker
from scripts.serve import LOAD_TEST, Servers, free_port
from tests.console.conftest import (
    PASSWORD, SCENARIOS, Console, console_env, scratch_postgres, start_console,
)
from tests.e2e.conftest import chat

MORE = {
    "faq": ["hello", "so what exactly is cryotherapy", "does it hurt", "is it safe for me",
            "how does the cold help my back", "thanks, bye"],
    "chamber": ["is your clinic using one of those freezing chambers or ice packs",
                "has the FDA approved cryo chambers"],
    "rated_helpful": ["what does a cryotherapy session cost me",
                      '/rate_answer{"answer":"ask_cost","verdict":"helpful"}'],
}
# How often each recorded conversation is cloned: about 20 events per conversation on average.
WEIGHTS = {"callback": 7, "unanswered": 10, "emergency": 2, "handoff": 12, "xss": 10,
           "personal": 5, "old": 25, "faq": 20, "chamber": 10, "possible": 2,
           "possible_then_emergency": 1, "rated_helpful": 8, "verdict": 4}
WORDS = [f"{a}{b}" for a in ("spine", "knee", "ice", "neck", "hip", "cold", "ache", "cramp",
                               "wrist", "shoulder", "heel", "jaw", "calf", "elbow", "rib")
         for b in ("", "s", "y", "ing", "ed", "er", "ish", "ness", "ful", "less", "like",
                   "wise", "ward", "ism", "ist", "ity", "ize", "ling", "let", "ette")]


def record(workdir: Path) -> Tuple[Path, Dict[str, str]]:
    servers = Servers(rasa_port=free_port(), action_port=free_port(),
                      tracker_db=workdir / "template.db", workdir=workdir, log_dir=workdir, **LOAD_TEST)
    senders = {}
    try:
        servers.start()
        for name, messages in {**SCENARIOS, **MORE}.items():
            senders[name] = secrets.token_hex(16)
            for message in messages:
                chat(servers, senders[name], message)
    finally:
        servers.stop()
    return servers.tracker_db, senders


def build(template: Path, senders: Dict[str, str], target: Path, conversations: int,
          seed: int = 4) -> int:
    rng = random.Random(seed)
    with sqlite3.connect(template) as src:
        schema = [sql for (sql,) in src.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name LIKE '%events%'")]
        recorded = {name: src.execute(
            "SELECT type_name, timestamp, intent_name, action_name, data FROM events "
            "WHERE sender_id = ? ORDER BY id", (sender,)).fetchall()
            for name, sender in senders.items()}
    names = [name for name in WEIGHTS if name in recorded]
    weights = [WEIGHTS[n] for n in names]
    now = time.time()
    target.unlink(missing_ok=True)
    db = sqlite3.connect(target)
    for sql in schema:
        db.execute(sql)
    # Conversations start in time order, as in a real store, over the past year.
    starts = sorted(now - rng.random() * 365 * 86400 for _ in range(conversations))
    total, batch = 0, []
    for start in starts:
        name = rng.choices(names, weights)[0]
        rows = recorded[name]
        sender = secrets.token_hex(16)
        shift = start - rows[0][1]
        word = rng.choice(WORDS)
        for kind, stamp, intent, action, data in rows:
            if kind == "user" and not parsed_payload(data):
                parsed = json.loads(data)
                parsed["text"] = f"{parsed['text']} {word}"
                data = json.dumps(parsed)
            batch.append((sender, kind, stamp + shift, intent, action, data))
        if len(batch) > 50000:
            total += flush(db, batch)
    total += flush(db, batch)
    db.close()
    return total


def parsed_payload(data: str) -> bool:
    """A button payload ("/rate_answer{...}"): cloned as it is, an extra word would spoil it."""
    return str(json.loads(data).get("text") or "").startswith("/")


def flush(db, batch: List[tuple]) -> int:
    db.executemany("INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
                   "action_name, data) VALUES (?, ?, ?, ?, ?, ?)", batch)
    db.commit()
    count = len(batch)
    batch.clear()
    return count


def timed(session: requests.Session, url: str, runs: int) -> Tuple[float, int]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        reply = session.get(url)
        times.append(time.perf_counter() - began)
        assert reply.status_code == 200, (url, reply.status_code, reply.text[:200])
    return statistics.median(times), len(reply.content)


def checks(transcript_of: str) -> List[Tuple[str, str]]:
    """(label, path) of every page and filter timed."""
    month_ago = time.strftime("%Y-%m-%d", time.localtime(time.time() - 30 * 86400))
    year_ago = time.strftime("%Y-%m-%d", time.localtime(time.time() - 365 * 86400))
    today = time.strftime("%Y-%m-%d", time.localtime())
    return [
        ("home page, last 30 days (HTML)", "/"),
        ("home page, last 30 days (JSON)", "/home.json"),
        ("home page, last 366 days (HTML)", f"/?from={year_ago}&to={today}"),
        ("list, page 1", "/conversations"),
        ("list, page 1 (JSON)", "/conversations.json"),
        ("list, page 1000", "/conversations.json?page=1000"),
        ("date range (last 30 days)", f"/conversations.json?from={month_ago}"),
        ("badge: callback", "/conversations.json?callback=1"),
        ("badge: handoff", "/conversations.json?handoff=1"),
        ("badge: unanswered", "/conversations.json?unanswered=1"),
        ("badge: emergency", "/conversations.json?emergency=1"),
        ("badge: possible emergency", "/conversations.json?possible=1"),
        ("label: not helpful (automatic)", "/conversations.json?label=not+helpful"),
        ("label: follow up (staff)", "/conversations.json?label=follow+up"),
        ("intent = emergency", "/conversations.json?intent=emergency"),
        ("intent = ask_fda_status", "/conversations.json?intent=ask_fda_status"),
        ("reviewed = yes", "/conversations.json?reviewed=yes"),
        ("reviewed = no", "/conversations.json?reviewed=no"),
        ("search: common word (cryotherapy)", "/conversations.json?q=cryotherapy"),
        ("search: rare word (jawlet)", "/conversations.json?q=jawlet"),
        ("search: two words (pizza place)", "/conversations.json?q=pizza+place"),
        ("all filters combined", f"/conversations.json?from={month_ago}&handoff=1&unanswered=1"
                                 "&intent=out_of_scope&reviewed=no&q=pizza"),
        ("transcript", f"/conversations/{transcript_of}"),
        ("callback queue (open)", "/callbacks"),
        ("unanswered report, last 30 days", f"/unanswered?from={month_ago}"),
        ("unanswered report, all time", "/unanswered"),
        ("export CSV, emergency filter", "/export/conversations.csv?emergency=1"),
    ]


def is_search(path: str) -> bool:
    return "q=" in path


def measure(console, runs: int, only=None,
            staff: Optional[requests.Session] = None) -> List[Tuple[str, float, int, str]]:
    """Times every check (those `only` keeps, given their path); with no `staff` session it
    logs in and first marks a few conversations reviewed and labels some."""
    base = console.url
    if staff is None:
        staff = console.login()
        prepare(staff, base)
    listing = staff.get(base + "/conversations.json").json()
    results = [("(conversations in store)", 0.0, listing["total"], "")]
    for label, path in checks(listing["conversations"][0]["sender_id"]):
        if only is None or only(path):
            seconds, size = timed(staff, base + path, runs)
            results.append((label, seconds, size, path))
    return results


def prepare(staff: requests.Session, base: str) -> None:
    some = [r["sender_id"] for r in
            staff.get(base + "/conversations.json").json()["conversations"][:20]]
    token = staff.get(base + "/conversations").text.split('name="csrf" value="')[1].split('"')[0]
    for sender in some:  # a few reviewed, so both reviewed filters have something to find
        staff.post(f"{base}/conversations/{sender}/review", data={"csrf": token, "reviewed": "1"})
    for sender in some[::2]:  # and a few labelled by staff
        staff.post(f"{base}/conversations/{sender}/labels", data={"csrf": token,
                                                                   "label": "follow up"})


@contextmanager
def postgres_database(given: str) -> Iterator[str]:
    """The URL of the database to use: `given`, or an empty one on a scratch server."""
    if given != "scratch":
        yield given
        return
    with scratch_postgres("clinic-console-scale-pg-") as server:
        yield server.database("clinic", owner="clinic")


def on_postgres(tracker: Path, out: Path, url: str, runs: int) -> None:
    """The events and the console's tables in PostgreSQL: copy, index, time every page, then
    the searches again without the trigram index; prints a Markdown table."""
    from sqlalchemy import create_engine

    began = time.perf_counter()
    copied = migrate_tracker.migrate(sqlite_url(tracker, read_only=True), url)
    print(f"Copied {copied['conversations']} conversations ({copied['events']} events) to "
          f"PostgreSQL with scripts/migrate_tracker.py in {time.perf_counter() - began:.0f} s",
          flush=True)
    engine = create_engine(url, future=True)
    metadata.drop_all(engine)  # the console's tables only; the events stay
    began = time.perf_counter()
    dbs = Databases(url, url)  # what the console does on start: the trigram index included
    indexed = indexer.index_all(dbs)
    print(f"First full index into PostgreSQL: {indexed} events in "
          f"{time.perf_counter() - began:.0f} s (trigram index: "
          f"{'yes' if has_trigram_index(engine) else 'NO'})", flush=True)
    began = time.perf_counter()
    with engine.connect() as db:
        db = db.execution_options(isolation_level="AUTOCOMMIT")
        # What autovacuum does soon after such a load: the planner's statistics (those of the
        # index's expression, lower(text), included), the visibility map, and the entries GIN
        # keeps in its pending list merged into the index proper.
        db.exec_driver_sql("VACUUM ANALYZE")
        rows, size = db.exec_driver_sql(
            "SELECT count(*), pg_size_pretty(pg_relation_size(%(index)s)) FROM console_messages",
            {"index": TRIGRAM_INDEX}).one()
    print(f"VACUUM ANALYZE in {time.perf_counter() - began:.0f} s. console_messages: {rows} "
          f"visitor messages; {TRIGRAM_INDEX}: {size}", flush=True)
    auth.create_user(dbs, "staff", PASSWORD)
    dbs.console.dispose()
    dbs.tracker.dispose()
    env = dict(console_env(out, tracker), TRACKER_DB_URL=url, CONSOLE_DB_URL=url)
    servers = Servers(rasa_port=0, action_port=0, tracker_db=tracker, workdir=out, log_dir=out,
                      env=env)
    servers.start_console()
    console = Console(servers, out, tracker)
    try:
        staff = console.login()
        prepare(staff, console.url)
        indexed = measure(console, runs, staff=staff)
        with engine.begin() as db:
            db.exec_driver_sql(f"DROP INDEX {TRIGRAM_INDEX}")
        scanned = measure(console, runs, only=is_search, staff=staff)
        began = time.perf_counter()
        assert create_trigram_index(engine)  # as a console start does on an older database
        print(f"Trigram index built again over {rows} messages in "
              f"{time.perf_counter() - began:.1f} s", flush=True)
        with engine.begin() as db:
            db.exec_driver_sql("ANALYZE console_messages")  # the new index's expression
        again = measure(console, runs, only=is_search, staff=staff)
    finally:
        console.stop()
        engine.dispose()
    without = {label: seconds for label, seconds, _, _ in scanned}
    rebuilt = {label: seconds for label, seconds, _, _ in again}
    print(f"\n| page or filter (PostgreSQL), median of {runs} | trigram index | no trigram "
          f"index (a scan) | index made again | response bytes |\n"
          f"| --- | ---: | ---: | ---: | ---: |")
    for label, seconds, size, path in indexed:
        if not seconds:
            print(f"| {label} | | | | {size} |")
            continue
        cells = [f"{seconds * 1000:.0f} ms"] + [
            f"{found[label] * 1000:.0f} ms" if label in found else ""
            for found in (without, rebuilt)]
        print(f"| {label} | {' | '.join(cells)} | {size} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/console-scale"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep an existing tracker.db")
    parser.add_argument("--postgres", nargs="?", const="scratch", metavar="URL",
                        help="the events and the console's tables in PostgreSQL: a scratch "
                             "server of its own, or the empty scratch database URL names "
                             "(its password in PGPASSWORD, not on the command line)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tracker = args.out / "tracker.db"
    if not (args.reuse and tracker.exists()):
        print("Recording real conversations through the assistant ...", flush=True)
        template, senders = record(args.out)
        began = time.perf_counter()
        events = build(template, senders, tracker, args.conversations)
        print(f"Built {args.conversations} conversations, {events} events "
              f"in {time.perf_counter() - began:.0f} s", flush=True)
    if args.postgres:
        with postgres_database(args.postgres) as url:
            on_postgres(tracker, args.out, url, args.runs)
        return
    for name in ("console.db", "console.db-wal", "console.db-shm"):
        (args.out / name).unlink(missing_ok=True)
    began = time.perf_counter()
    # The first full index, as `python -m console index` does it (the console would do the same
    # before it answers, but its start is given only a couple of minutes).
    dbs = Databases(sqlite_url(tracker, read_only=True), sqlite_url(args.out / "console.db"))
    indexed = indexer.index_all(dbs)
    dbs.console.dispose()
    print(f"First full index: {indexed} events in {time.perf_counter() - began:.0f} s",
          flush=True)
    console = start_console(args.out, tracker)
    try:
        results = measure(console, args.runs)
    finally:
        console.stop()
    print(f"\n| page or filter | median of {args.runs} | response bytes |\n| --- | ---: | ---: |")
    for label, seconds, size, _ in results:
        print(f"| {label} | {seconds * 1000:.0f} ms | {size} |" if seconds else
              f"| {label} | | {size} |")


if __name__ == "__main__":
    main()
