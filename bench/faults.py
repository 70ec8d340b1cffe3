"""Soak and fault suite (issue 8): many visitors at once while each server is killed and
restarted, the tracker store is made read-only and locked, and the action server is paused.

    .venv/bin/python -m bench.run --faults            # 50 visitors x 60 messages (make bench ARGS=--faults)
    .venv/bin/python -m bench.run --faults --smoke    # 5 x 12, for the tests

Every visitor message ends as one of:
- stored: in the tracker store at the end (after the store recovered and the spool drained);
- reported: not stored, and the visitor was told (an error the widget shows with the phone
  number, or the bot's "could not save" / "having trouble" reply);
- lost: the visitor got a normal-looking answer and the message is not stored. Must be 0.
A visitor whose message gets no answer at all (connection refused while the Rasa server
restarts) sends it again after a second, as the widget lets them; "duplicated" counts messages
stored more than once. Loopback only; every loop is bounded in count and time.
"""
import json
import secrets
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List

import requests

from bench.conversations import OURS
from clinic.content import load_content
from scripts.serve import LOAD_TEST, Servers, free_port

# Visitors are paced so that their messages span the whole fault timeline (about 50 s full,
# 25 s smoke, most of it the Rasa server's restart).
SCALES = {"full": {"visitors": 50, "messages": 60, "fault_s": 6.0, "gap_s": 4.0, "pace_s": 0.8},
          "smoke": {"visitors": 5, "messages": 12, "fault_s": 2.0, "gap_s": 1.0, "pace_s": 2.0}}
RETRIES = 20  # per message, one a second, while no server answers
DEADLINE_S = 900  # the whole soak, whatever happens


@dataclass
class Visitor:
    sender: str
    sent: List[str] = field(default_factory=list)
    outcomes: Dict[str, str] = field(default_factory=dict)  # text -> "answered" | "reported"
    notices: int = 0  # replies (or failed requests) that told the visitor something was wrong
    longest_s: float = 0.0


def messages_for(index: int, count: int) -> List[str]:
    """`count` distinct messages from the benchmark's realistic conversations."""
    path = OURS[index % len(OURS)]
    return [f"{path[i % len(path)]} #{i}" for i in range(count)]


def run_visitor(webhook: str, visitor: Visitor, texts: List[str], pace_s: float,
                warnings: List[str], deadline: float) -> None:
    session = requests.Session()
    for text in texts:
        if time.monotonic() > deadline:
            return
        visitor.sent.append(text)
        started = time.monotonic()
        message_id = secrets.token_hex(16)  # the same on every attempt, as the widget's
        for attempt in range(RETRIES):
            try:
                reply = session.post(webhook, timeout=30, json={
                    "sender": visitor.sender, "message": text, "message_id": message_id,
                    "retry": attempt > 0})
            except requests.RequestException:
                visitor.outcomes[text] = "reported"  # the widget shows the phone number
                visitor.notices += 1
                time.sleep(1)
                continue
            said = " ".join(m.get("text", "") for m in reply.json()) if reply.ok else ""
            told = reply.status_code != 200 or any(w in said for w in warnings)
            visitor.notices += told
            # What the visitor last saw decides: a retry answered normally must be stored.
            visitor.outcomes[text] = "reported" if told else "answered"
            break
        visitor.longest_s = max(visitor.longest_s, time.monotonic() - started)
        time.sleep(pace_s)


def stored_counts(tracker_db: Path) -> Counter:
    with sqlite3.connect(tracker_db) as db:
        rows = db.execute("SELECT sender_id, data FROM events WHERE type_name = 'user'").fetchall()
    return Counter((sender, json.loads(data)["text"]) for sender, data in rows)


def faults(servers: Servers, fault_s: float, gap_s: float,
           progress: Callable[[str], None]) -> List[Dict[str, float]]:
    """Each fault in turn, with normal traffic between them; returns when each started/ended."""
    db = str(servers.tracker_db)

    def read_only() -> None:
        subprocess.run(["chattr", "+i", db], check=True)
        time.sleep(fault_s)
        subprocess.run(["chattr", "-i", db], check=True)

    def locked() -> None:
        lock = sqlite3.connect(db, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        time.sleep(fault_s)
        lock.execute("COMMIT")
        lock.close()

    def action_server_paused() -> None:
        servers.actions.send_signal(signal.SIGSTOP)
        time.sleep(fault_s)
        servers.actions.send_signal(signal.SIGCONT)

    def action_server_killed() -> None:
        servers.actions.kill()
        servers.actions.wait()
        servers.start_actions()

    def rasa_server_killed() -> None:
        servers.rasa.kill()
        servers.rasa.wait()
        servers.start_rasa()

    timeline = []
    for name, fault in (("store read-only", read_only), ("store locked", locked),
                        ("action server paused", action_server_paused),
                        ("action server killed and restarted", action_server_killed),
                        ("Rasa server killed and restarted", rasa_server_killed)):
        time.sleep(gap_s)
        progress(f"faults: {name}")
        started = time.monotonic()
        fault()
        timeline.append({"fault": name, "seconds": round(time.monotonic() - started, 1)})
    return timeline


def soak(scale: str, workdir: Path, progress: Callable[[str], None]) -> Dict:
    settings = SCALES[scale]
    content = load_content()
    warnings = [content.messages[key] for key in ("not_saved", "unavailable", "rate_limited")]
    servers = Servers(rasa_port=free_port(), action_port=free_port(),
                      tracker_db=workdir / "tracker.db", workdir=workdir, log_dir=workdir,
                      **LOAD_TEST)
    visitors = [Visitor(secrets.token_hex(16)) for _ in range(settings["visitors"])]
    deadline = time.monotonic() + DEADLINE_S
    try:
        servers.start()
        threads = [threading.Thread(target=run_visitor, args=(
            servers.webhook, visitor, messages_for(i, settings["messages"]),
            settings["pace_s"], warnings, deadline)) for i, visitor in enumerate(visitors)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        timeline = faults(servers, settings["fault_s"], settings["gap_s"], progress)
        for thread in threads:
            thread.join(timeout=max(deadline - time.monotonic(), 1))
        seconds = time.monotonic() - started
        progress("faults: waiting for kept turns to be written")
        spool_empty = wait_for_spool(servers.spool_db, deadline)
    finally:
        subprocess.run(["chattr", "-i", str(servers.tracker_db)], check=False)
        servers.stop()
    return summary(visitors, stored_counts(servers.tracker_db), timeline, seconds, spool_empty,
                   settings)


def wait_for_spool(spool_db: Path, deadline: float) -> bool:
    end = min(deadline, time.monotonic() + 60)
    while time.monotonic() < end:
        with sqlite3.connect(spool_db) as db:
            (pending,) = db.execute("SELECT COUNT(*) FROM pending_turns").fetchone()
        if not pending:
            return True
        time.sleep(0.5)
    return False


def summary(visitors: List[Visitor], stored: Counter, timeline: List[Dict], seconds: float,
            spool_empty: bool, settings: Dict) -> Dict:
    counts = Counter()
    for visitor in visitors:
        for text in visitor.sent:
            times = stored[(visitor.sender, text)]
            counts["sent"] += 1
            counts["duplicated"] += times > 1
            if times:
                counts["stored"] += 1
            elif visitor.outcomes.get(text) == "reported":
                counts["reported"] += 1
            else:
                counts["lost"] += 1
        counts["told_something_was_wrong"] += visitor.notices
    return {"visitors": settings["visitors"], "messages_each": settings["messages"],
            "seconds": round(seconds, 1), "faults": timeline, "spool_drained": spool_empty,
            "longest_stall_s": round(max(v.longest_s for v in visitors), 1),
            **{key: counts[key] for key in ("sent", "stored", "reported", "lost", "duplicated",
                                            "told_something_was_wrong")}}


def markdown(results: Dict) -> str:
    faults = "; ".join(f"{f['fault']} ({f['seconds']} s)" for f in results["faults"])
    return "\n".join([
        f"Soak and faults: {results['visitors']} visitors x {results['messages_each']} messages "
        f"in {results['seconds']} s. Faults, in turn: {faults}.",
        "",
        "| sent | stored | reported to the visitor, not stored | lost silently | stored twice "
        "| replies that told the visitor | longest stall |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| {results['sent']} | {results['stored']} | {results['reported']} | {results['lost']} "
        f"| {results['duplicated']} | {results['told_something_was_wrong']} "
        f"| {results['longest_stall_s']} s |",
        "",
    ])
