"""One very long conversation (issue 13): does the cost of a message grow with the conversation?

Two bots side by side, sent the same messages alternately so that drift hits both alike: ours
as configured (endpoints.yml's session_max_messages: a new session, with the slots and the last
turn carried over, every so many visitor messages; stores/session_rollover.py) and the same bot
with that limit off, which replays the whole conversation on every message as Rasa does.
Reported per bot: the median reply time of the last 20 messages against that of the first 20
messages of a fresh conversation sent at the same time, interleaved with them (so that the
machine's load, which drifts over the minutes of the run, weighs on both alike; the long
conversation's own first 20 are reported too), their ratio (bar: at most 1.5x at 1,000
messages), and whether every message was answered and stored once.

    .venv/bin/python -m bench.run --long            # 1,000 messages (make bench ARGS=--long)
    .venv/bin/python -m bench.run --long --smoke    # 60, for the tests
"""
import secrets
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import requests
import yaml

from bench.conversations import OURS
from bench.report import bar, ratio
from scripts.serve import LOAD_TEST, ROOT, Servers, free_port

MESSAGES = {"full": 1000, "smoke": 60}
WINDOW = 20  # messages at each end of the conversation
QUESTIONS = [text for text in OURS[0] if text not in ("hi", "thanks, bye")]


def endpoints() -> Dict[str, Any]:
    return yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))


def uncapped_endpoints(workdir: Path) -> Path:
    """endpoints.yml with the session limit off: the baseline."""
    uncapped = endpoints()
    uncapped["tracker_store"]["session_max_messages"] = 0
    path = workdir / "endpoints-uncapped.yml"
    path.write_text(yaml.safe_dump(uncapped, sort_keys=False), encoding="utf-8")
    return path


def stored_messages(db: Path, sender: str) -> int:
    with sqlite3.connect(db) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM events WHERE sender_id = ? AND "
                                      "type_name = 'user'", (sender,)).fetchone()
    return count


def summary(samples: List[float], fresh: List[float], answered: int,
            stored: int) -> Dict[str, Any]:
    first, last = (statistics.median(s) * 1000 for s in (samples[:WINDOW], samples[-WINDOW:]))
    fresh_first = statistics.median(fresh) * 1000
    return {"messages": len(samples), "first_median_ms": first, "last_median_ms": last,
            "fresh_first_median_ms": fresh_first, "last_over_first": last / fresh_first,
            "answered": answered, "stored": stored}


def measure(scale: str, workdir: Path, progress: Callable[[str], None]) -> Dict[str, Any]:
    bots = {}
    for name in ("ours", "uncapped"):
        (workdir / name).mkdir()
        bots[name] = Servers(rasa_port=free_port(), action_port=free_port(),
                             tracker_db=workdir / f"{name}.db", workdir=workdir / name,
                             log_dir=workdir / name, **LOAD_TEST)
    bots["uncapped"].endpoints_source = uncapped_endpoints(workdir)
    senders = {name: secrets.token_hex(16) for name in bots}
    fresh = {name: secrets.token_hex(16) for name in bots}
    samples: Dict[str, List[float]] = {name: [] for name in bots}
    fresh_samples: Dict[str, List[float]] = {name: [] for name in bots}
    answered = {name: 0 for name in bots}
    http = requests.Session()

    def send(name: str, sender: str, text: str, into: List[float]) -> bool:
        started = time.perf_counter()
        reply = http.post(bots[name].webhook, json={"sender": sender, "message": text},
                          timeout=120)
        into.append(time.perf_counter() - started)
        return reply.status_code == 200 and bool(reply.json())

    try:
        for servers in bots.values():
            servers.start()
        total = MESSAGES[scale]
        for index in range(total):
            text = QUESTIONS[index % len(QUESTIONS)]
            for name in bots:
                if index >= total - WINDOW:  # a fresh conversation's first messages, meanwhile
                    send(name, fresh[name], QUESTIONS[(index + 3) % len(QUESTIONS)],
                         fresh_samples[name])
                answered[name] += send(name, senders[name], text, samples[name])
            if (index + 1) % max(total // 10, 1) == 0:
                progress(f"long conversation: {index + 1}/{total} messages")
    finally:
        for servers in bots.values():
            servers.stop()
    return {"window": WINDOW, "max_session_messages": session_limit(), **{
        name: summary(samples[name], fresh_samples[name], answered[name],
                      stored_messages(bots[name].tracker_db, senders[name]))
        for name in bots}}


def session_limit() -> int:
    return int(endpoints()["tracker_store"].get("session_max_messages", 0))


def markdown(r: Dict[str, Any]) -> str:
    o, u = r["ours"], r["uncapped"]
    ok = o["last_over_first"] <= 1.5 and o["answered"] == o["stored"] == o["messages"]
    return "\n".join([
        f"One conversation of {o['messages']} messages; a new session every "
        f"{r['max_session_messages']} visitor messages (ours) against none (Rasa as it comes).",
        "",
        "| measure | ours | no session limit | ratio | bar |",
        "| --- | --- | --- | --- | --- |",
        f"| median reply, first {r['window']} messages | {o['first_median_ms']:.1f} ms | "
        f"{u['first_median_ms']:.1f} ms | {ratio(o['first_median_ms'], u['first_median_ms'])} | |",
        f"| median reply, last {r['window']} messages | {o['last_median_ms']:.1f} ms | "
        f"{u['last_median_ms']:.1f} ms | {ratio(o['last_median_ms'], u['last_median_ms'])} | |",
        f"| median reply, a fresh conversation's first {r['window']}, sent meanwhile | "
        f"{o['fresh_first_median_ms']:.1f} ms | {u['fresh_first_median_ms']:.1f} ms | | |",
        f"| last {r['window']} over the fresh first {r['window']} | {o['last_over_first']:.2f}x "
        f"| {u['last_over_first']:.2f}x | | "
        f"{bar(ok)} (at most 1.5x, every message answered and stored once) |",
        f"| answered / stored | {o['answered']} / {o['stored']} | {u['answered']} / {u['stored']} "
        "| | |",
        "",
    ])
