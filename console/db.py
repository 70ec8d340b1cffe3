"""Database access: Rasa's tracker store (read only) and the console's own tables.

Two engines, so the console can never write to Rasa's tables by accident: the tracker engine
opens a SQLite tracker store read-only; the console's tables live in their own database
(<VAR_DIR>/console.db by default). Both take any SQLAlchemy URL, so PostgreSQL works the same way.

Everything the console writes goes under VAR_DIR when it is set (as for scripts/serve.py), else
under var/ in the repo. A SQLite console database is created with mode 600, in WAL mode, and its
-wal and -shm files get the same mode.

Search has an index on both: FTS5 on SQLite (console_messages_fts), and on PostgreSQL a GIN
trigram index (pg_trgm) on the expression the search's LIKE reads (create_trigram_index).
"""
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Optional

from sqlalchemy import (
    Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text, create_engine, event,
    inspect, select, update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from stores import var_dir
from stores.indexes import create_index, create_index_sql, index_names

ROOT = Path(__file__).resolve().parents[1]
PRIVATE = 0o600  # console.db, its -wal/-shm files and console-secret: the owner only
logger = logging.getLogger("console")



# Rasa's own table (rasa/core/tracker_store.py, SQLTrackerStore.SQLEvent). Declared here to build
# queries with bound parameters; the console never creates or alters it.
rasa_metadata = MetaData()
events = Table(
    "events", rasa_metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

metadata = MetaData()

# --- Derived from events by console/indexer.py; `python -m console reindex` rebuilds them. ---
conversations = Table(
    "console_conversations", metadata,
    Column("sender_id", String(255), primary_key=True),
    Column("started", Float, nullable=False),
    Column("last_at", Float, nullable=False),
    Column("length", Integer, nullable=False, default=0),  # visitor + bot messages
    Column("first_question", Text),
    Column("callback", Boolean, nullable=False, default=False),
    Column("handoff", Boolean, nullable=False, default=False),
    Column("unanswered", Boolean, nullable=False, default=False),
    Column("emergency", Boolean, nullable=False, default=False),
    # A visitor message triaged `possible` (parse_data.triage.level): the safety line was shown.
    Column("possible", Boolean, nullable=False, default=False),
    # Automatic labels: a visitor's verdict "not_helpful" on an answer (console_verdicts), and a
    # visitor message whose triage language (parse_data.triage.language) is not English.
    Column("not_helpful", Boolean, nullable=False, default=False),
    Column("non_english", Boolean, nullable=False, default=False),
    # What the indexer needs to carry on from the last event it saw (JSON).
    Column("fold_state", Text, nullable=False, default="{}"),
)
# One index per filter, each ending in `started` so a filtered page is read in order.
Index("ix_console_conv_started", conversations.c.started)
Index("ix_console_conv_last_at", conversations.c.last_at)
for _badge in ("callback", "handoff", "unanswered", "emergency", "possible", "not_helpful",
               "non_english"):
    Index(f"ix_console_conv_{_badge}", conversations.c[_badge], conversations.c.started)
# The home page's charts: a range of `started` read from the index alone (covering), grouped.
Index("ix_console_conv_home", conversations.c.started, conversations.c.callback,
      conversations.c.handoff, conversations.c.unanswered, conversations.c.emergency,
      conversations.c.possible)

conversation_intents = Table(
    "console_conversation_intents", metadata,
    Column("intent", String(255), primary_key=True),
    Column("sender_id", String(255), primary_key=True),
)
Index("ix_console_intents_sender", conversation_intents.c.sender_id)

# One row per visitor message: search, the unanswered report.
messages = Table(
    "console_messages", metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=False),
    Column("sender_id", String(255), nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("text", Text, nullable=False),
    Column("intent", String(255)),
    Column("confidence", Float),
    Column("unanswered", Boolean, nullable=False, default=False),
)
Index("ix_console_messages_sender", messages.c.sender_id)
Index("ix_console_messages_unanswered", messages.c.unanswered, messages.c.timestamp)
# The home page's top questions: a range of `timestamp` grouped by intent, from the index alone.
Index("ix_console_messages_time_intent", messages.c.timestamp, messages.c.intent)

# PostgreSQL's search index: the trigrams of lower(text), which console/queries.py _search reads
# with `lower(text) LIKE '%term%'` (one LIKE per word). Made by create_trigram_index, not by
# create_all: it needs the pg_trgm extension, which the console's role may not be allowed to create.
TRIGRAM_INDEX = "ix_console_messages_text_trgm"

# Completed callback requests; id is the event id of the callback_status="submitted" slot.
callbacks = Table(
    "console_callbacks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("sender_id", String(255), nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("name", Text),
    Column("phone", Text),
    Column("preferred_time", Text),
    Column("question", Text),
    # Where it hurts and for how long, from the visitor's statement of pain before the request
    # (the pain_body_part and pain_duration slots): "lower back", "3 weeks"; "" if not said.
    Column("pain_body_part", Text, nullable=False, default=""),
    Column("pain_duration", Text, nullable=False, default=""),
)
Index("ix_console_callbacks_sender", callbacks.c.sender_id)
Index("ix_console_callbacks_requested", callbacks.c.requested_at)

# Visitors' verdicts on the assistant's answers, as the bot records them (actions/verdicts.py):
# one row per `answer_verdict` slot event "<answer>:<helpful|not_helpful>", id its event id; the
# reason ("<answer>:not_helpful:<reason>", a fixed code) goes onto that row. Filled by the
# indexer (Batch._verdict); the home page's helpful rate and the "not helpful" label read it.
verdicts = Table(
    "console_verdicts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("sender_id", String(255), nullable=False),
    Column("at", Float, nullable=False),
    Column("answer", String(100), nullable=False),  # the intent whose answer was rated
    Column("verdict", String(20), nullable=False),  # "helpful" or "not_helpful"
    Column("reason", String(60)),  # e.g. "did_not_answer"; None: none given (yet)
)
Index("ix_console_verdicts_sender", verdicts.c.sender_id)
Index("ix_console_verdicts_home", verdicts.c.at, verdicts.c.answer, verdicts.c.verdict,
      verdicts.c.reason)

index_state = Table(
    "console_index_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_event_id", Integer, nullable=False),
)

# --- Staff-owned: never rebuilt. ---
users = Table(
    "console_users", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Who may read and export the audit log (`create-user --admin`, `grant-admin`, `revoke-admin`).
admins = Table(
    "console_admins", metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=False),
    Column("granted_at", Float, nullable=False),
)

sessions = Table(
    "console_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie value
    Column("user_id", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    # The last request the person made (not the pages' background polling): idle logout.
    Column("last_seen", Float, nullable=False, default=0.0),
)
Index("ix_console_sessions_expires", sessions.c.expires_at)

login_failures = Table(
    "console_login_failures", metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(300), nullable=False),  # "user:<name>" or "ip:<address>"
    Column("at", Float, nullable=False),
)
Index("ix_console_login_failures", login_failures.c.key, login_failures.c.at)

reviews = Table(
    "console_reviews", metadata,
    Column("sender_id", String(255), primary_key=True),
    Column("reviewed", Boolean, nullable=False, default=False),
    Column("note", Text, nullable=False, default=""),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_console_reviews_reviewed", reviews.c.reviewed, reviews.c.sender_id)

# Labels staff put on conversations (the automatic ones are columns of console_conversations).
labels = Table(
    "console_labels", metadata,
    Column("sender_id", String(255), primary_key=True),
    Column("label", String(40), primary_key=True),
    Column("added_by", String(64), nullable=False),
    Column("added_at", Float, nullable=False),
)
Index("ix_console_labels_label", labels.c.label, labels.c.sender_id)

callback_marks = Table(
    "console_callback_marks", metadata,
    Column("callback_id", Integer, primary_key=True, autoincrement=False),
    Column("called", Boolean, nullable=False, default=False),
    Column("note", Text, nullable=False, default=""),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Append-only: the code only inserts (queries.log), and triggers refuse UPDATE and DELETE
# (create_console_tables). Logins, logouts, callback marks, every view of a transcript or of the
# callback queue, every export, retention, account and admin changes.
audit = Table(
    "console_audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)

# Front-desk notifications (console/notify.py): one row per event, recorded by the indexer in
# the transaction that indexes the event, so each is recorded once, whatever restarts. No
# patient data: the kind, the tracker event's id and time, and the delivery state.
notifications = Table(
    "console_notifications", metadata,
    Column("id", Integer, primary_key=True),
    Column("event_key", String(100), nullable=False, unique=True),  # kind:event id:event time
    Column("kind", String(20), nullable=False),  # "callback" or "emergency"
    Column("event_id", Integer, nullable=False),
    Column("event_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    # pending (to send), sent, failed (gave up), off (recorded while e-mail was off)
    Column("state", String(10), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("next_try_at", Float, nullable=False),
    Column("sent_at", Float),
)
Index("ix_console_notifications_due", notifications.c.state, notifications.c.next_try_at)
Index("ix_console_notifications_kind", notifications.c.kind, notifications.c.id)

# The tracker event id up to which nothing is notified: what the store held when this console
# first ran with notifications (no e-mail for every old request on a first start).
notification_state = Table(
    "console_notification_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("baseline_event_id", Integer, nullable=False),
)

# Per staff account and kind: the last notification seen (the badge counts the ones after it).
notifications_seen = Table(
    "console_notifications_seen", metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(20), primary_key=True),
    Column("last_id", Integer, nullable=False),
)

DERIVED = (conversations, conversation_intents, messages, callbacks, verdicts, index_state)

# Columns added to a table after its first release: a console.db from before gets them on start
# (upgrade_tables) with the default given here; if a derived table gained one, its summary is
# rebuilt from the events. A session from before has last_seen 0: it has been idle too long.
ADDED_COLUMNS = {conversations: {"possible": "FALSE", "not_helpful": "FALSE",
                                 "non_english": "FALSE"},
                 callbacks: {"pain_body_part": "''", "pain_duration": "''"},
                 sessions: {"last_seen": "0"}}
APPEND_ONLY = (audit,)


def sqlite_url(path: Path, read_only: bool = False) -> str:
    if read_only:
        return f"sqlite:///file:{Path(path).resolve()}?mode=ro&uri=true"
    return f"sqlite:///{Path(path).resolve()}"


def tracker_url(read_only: bool = True) -> str:
    """TRACKER_DB_URL (any SQLAlchemy URL), else the SQLite file TRACKER_DB (as `make run`)."""
    url = os.environ.get("TRACKER_DB_URL")
    if url:
        return url
    return sqlite_url(Path(os.environ.get("TRACKER_DB") or var_dir() / "tracker.db"), read_only)


def console_url() -> str:
    """CONSOLE_DB_URL, else the SQLite file <VAR_DIR>/console.db."""
    return os.environ.get("CONSOLE_DB_URL") or sqlite_url(var_dir() / "console.db")


def make_private(path: Path) -> None:
    """Creates `path` with mode 600 if it is missing (never truncating it), and takes group and
    other access away if it exists; the same for SQLite's -wal, -shm and -journal files there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE))
    for name in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        try:
            if name.stat().st_mode & 0o777 != PRIVATE:
                os.chmod(name, PRIVATE)
        except FileNotFoundError:
            pass
        except PermissionError:  # someone else's file: say so, but the console can still work
            logger.warning("could not make %s private (mode 600): not its owner", name)


def _sqlite_file(engine: Engine) -> Optional[Path]:
    """The file of a SQLite engine opened by path (not in memory, not a file: URI), else None."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or \
            database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record):  # noqa: ANN001
            # Wait for Rasa's writes instead of failing with "database is locked".
            connection.execute("PRAGMA busy_timeout = 5000")
    return engine


def has_fts5(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and os.environ.get("CONSOLE_NO_FTS") != "1"


def create_console_tables(engine: Engine) -> None:
    """Creates the console's tables and search index (FTS5 on SQLite, create_trigram_index on
    PostgreSQL) if missing; a SQLite file is made private (mode 600) and put in WAL mode first."""
    path = _sqlite_file(engine)
    if path is not None:
        make_private(path)
        with sqlite3.connect(path, timeout=5) as connection:
            # Readers (pages) no longer wait for the indexer's writes, nor it for them.
            connection.execute("PRAGMA journal_mode=WAL")
        connection.close()
        make_private(path)  # the -wal and -shm files just created
    metadata.create_all(engine)
    upgrade_tables(engine)
    create_missing_indexes(engine)
    create_trigram_index(engine)
    make_append_only(engine)
    if has_fts5(engine):
        with engine.begin() as db:
            # An external-content index over console_messages.text, kept in step by triggers.
            db.exec_driver_sql(
                "CREATE VIRTUAL TABLE IF NOT EXISTS console_messages_fts USING fts5("
                "text, content='console_messages', content_rowid='event_id', "
                "tokenize='unicode61 remove_diacritics 2')"
            )
            db.exec_driver_sql(
                "CREATE TRIGGER IF NOT EXISTS console_messages_fts_ins AFTER INSERT ON "
                "console_messages BEGIN INSERT INTO console_messages_fts(rowid, text) "
                "VALUES (new.event_id, new.text); END"
            )
            db.exec_driver_sql(
                "CREATE TRIGGER IF NOT EXISTS console_messages_fts_del AFTER DELETE ON "
                "console_messages BEGIN INSERT INTO console_messages_fts(console_messages_fts, "
                "rowid, text) VALUES ('delete', old.event_id, old.text); END"
            )


def _missing_columns(db) -> list:
    """(table, column) pairs of ADDED_COLUMNS that the database behind `db` (an engine or a
    connection) lacks."""
    inspector = inspect(db)
    missing = []
    for table, names in ADDED_COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing += [(table, table.c[name]) for name in names if name not in present]
    return missing


def upgrade_tables(engine: Engine) -> bool:
    """Adds the columns (and their indexes) that a console.db from an earlier version lacks; if
    a derived table gained one, empties the derived tables in the same transaction, so the
    indexer rebuilds them from the events (staff marks stay). True when it added something.
    Two processes starting at once: on SQLite the second waits for the first (BEGIN IMMEDIATE),
    then finds nothing to do; on PostgreSQL the second's ALTER fails once the first has
    committed, and is let go."""
    if not _missing_columns(engine):
        return False
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as db:
        if sqlite:  # pysqlite would run the ALTER outside a transaction: take one ourselves
            db = db.execution_options(isolation_level="AUTOCOMMIT")
            db.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            db.begin()
        try:
            missing = _missing_columns(db)
            for table, column in missing:
                kind = column.type.compile(dialect=engine.dialect)
                default = ADDED_COLUMNS[table][column.name]
                db.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind} "
                                   f"NOT NULL DEFAULT {default}")
            added = {(table.name, column.name) for table, column in missing}
            for table in {table for table, _ in missing}:
                for index in sorted(table.indexes, key=lambda i: i.name):
                    if any((table.name, name) in added for name in index.columns.keys()):
                        db.exec_driver_sql(create_index_sql(index, engine))
            rebuild = any(table in DERIVED for table, _ in missing)
            if rebuild:
                for table in DERIVED:
                    if table is not index_state:
                        db.execute(table.delete())
                db.execute(update(index_state).values(last_event_id=0))
        except DBAPIError:
            db.exec_driver_sql("ROLLBACK") if sqlite else db.rollback()
            if _missing_columns(engine):
                raise
            return False  # another process upgraded it first
        db.exec_driver_sql("COMMIT") if sqlite else db.commit()
    if missing:
        logger.warning("console.db upgraded (added %s)%s",
                       ", ".join(f"{t.name}.{c.name}" for t, c in missing),
                       ": the summary is rebuilt from the events" if rebuild else "")
    return bool(missing)


def create_missing_indexes(engine: Engine) -> None:
    """Indexes added to a table after it was created (create_all makes them only with a new
    table): made once, on start; two processes at once are harmless."""
    for table in metadata.sorted_tables:
        for index in sorted(table.indexes, key=lambda i: i.name):
            if create_index(engine, index):
                logger.warning("console.db: index %s added", index.name)


def _trigram_schema(engine: Engine) -> Optional[str]:
    """The schema the pg_trgm extension is installed in; None when it is not installed."""
    with engine.connect() as db:
        return db.exec_driver_sql(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'").scalar()


def has_trigram_index(engine: Engine) -> bool:
    """Whether the console's PostgreSQL database has TRIGRAM_INDEX on console_messages."""
    return engine.dialect.name == "postgresql" and \
        TRIGRAM_INDEX in index_names(engine, messages.name)


def create_trigram_index(engine: Engine) -> bool:
    """On PostgreSQL, search's index: the pg_trgm extension if it is missing, then a GIN
    trigram index on lower(console_messages.text), the expression _search's LIKE reads
    (TRIGRAM_INDEX); True when it is there. pg_trgm is a trusted extension (PostgreSQL 13 and
    later): the database's owner, or any role with CREATE on the database, may create it. A role
    that may not gets a warning saying what a DBA must run, and the console works on: search
    reads every message until the extension is there (the next start adds the index).
    Idempotent: each is made only when missing. Two processes at once: the one whose CREATE
    fails because the other's came first finds the extension or index made, and goes on without
    a word (so each is logged once, by the process that made it). On SQLite nothing: FTS5 serves
    search there."""
    if engine.dialect.name != "postgresql":
        return False
    if has_trigram_index(engine):
        return True
    schema = _trigram_schema(engine)
    if schema is None:
        try:
            with engine.begin() as db:
                # Without IF NOT EXISTS: a process that comes second fails, and says nothing.
                db.exec_driver_sql("CREATE EXTENSION pg_trgm")
        except DBAPIError as error:
            schema = _trigram_schema(engine)  # another process may have made it just now
            if schema is None:
                reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
                logger.warning(
                    "console search on PostgreSQL reads every message (no trigram index): "
                    "could not create the pg_trgm extension (%s). A DBA must run, in database "
                    "%s, as a superuser or the database's owner: CREATE EXTENSION IF NOT EXISTS "
                    "pg_trgm; (e.g. psql -d %s -c 'CREATE EXTENSION IF NOT EXISTS pg_trgm'); "
                    "the console adds its index %s on its next start.",
                    reason, engine.url.database, engine.url.database, TRIGRAM_INDEX)
                return False
        else:
            schema = _trigram_schema(engine)
            logger.warning("console database: extension pg_trgm created (schema %s)", schema)
    # Its operator class named with its schema: pg_trgm may live outside the search path.
    opclass = f"{engine.dialect.identifier_preparer.quote(schema)}.gin_trgm_ops"
    create = f"CREATE INDEX {TRIGRAM_INDEX} ON {messages.name} USING gin (lower(text) {opclass})"
    began = time.monotonic()
    try:
        with engine.begin() as db:
            db.exec_driver_sql(create)
    except DBAPIError as error:
        if has_trigram_index(engine):
            return True  # another process made it first
        # e.g. pg_trgm in a schema this role may not use: search still works, as a scan
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        logger.warning("console search on PostgreSQL reads every message: could not create its "
                       "trigram index (%s). A DBA may run, in database %s: %s;", reason,
                       engine.url.database, create)
        return False
    logger.warning("console database: index %s added (search) in %.1f s", TRIGRAM_INDEX,
                   time.monotonic() - began)
    return True


def make_append_only(engine: Engine) -> None:
    """Triggers that refuse UPDATE and DELETE (and on PostgreSQL TRUNCATE) on APPEND_ONLY
    tables: even a mistake in the code, or a hand-typed statement, cannot rewrite them."""
    with engine.begin() as db:
        for table in APPEND_ONLY:
            name = table.name
            if engine.dialect.name == "sqlite":
                for verb in ("UPDATE", "DELETE"):
                    db.exec_driver_sql(
                        f"CREATE TRIGGER IF NOT EXISTS {name}_no_{verb.lower()} BEFORE {verb} "
                        f"ON {name} BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END")
            elif engine.dialect.name == "postgresql":
                db.exec_driver_sql(
                    f"CREATE OR REPLACE FUNCTION {name}_append_only() RETURNS trigger "
                    f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{name} is append-only'; "
                    f"END $$")
                for verb, each in (("UPDATE OR DELETE", "ROW"), ("TRUNCATE", "STATEMENT")):
                    trigger = f"{name}_no_{verb.split()[0].lower()}"
                    exists = db.exec_driver_sql(
                        "SELECT 1 FROM pg_trigger WHERE tgname = %(name)s",
                        {"name": trigger}).first()
                    if exists is None:
                        db.exec_driver_sql(
                            f"CREATE TRIGGER {trigger} BEFORE {verb} ON {name} FOR EACH {each} "
                            f"EXECUTE FUNCTION {name}_append_only()")
            else:
                logger.warning("%s is append-only by the code alone: no triggers on %s",
                               name, engine.dialect.name)


class Databases:
    """The two engines the console works with."""

    def __init__(self, tracker: Optional[str] = None, console: Optional[str] = None):
        self.tracker = make_engine(tracker or tracker_url())
        self.console = make_engine(console or console_url())
        create_console_tables(self.console)
        self.fts = has_fts5(self.console)
        try:
            with self.console.begin() as db:
                if db.execute(select(index_state.c.id)).first() is None:
                    db.execute(index_state.insert().values(id=1, last_event_id=0))
        except IntegrityError:
            pass  # another process created it at the same moment
