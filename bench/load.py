"""Per-message latency and throughput over the REST channel, with the nothing-lost check
against the tracker store (the real SQLite file each bot writes)."""
import secrets
import sqlite3
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import Callable, Dict, List, Optional

import requests

from bench.conversations import script

MESSAGES_PER_CONVERSATION = 10


@dataclass
class Target:
    name: str
    webhook: str
    tracker_db: Path
    paths: List[List[str]]


def send(session: requests.Session, target: Target, sender: str, text: str) -> bool:
    """One message; True when the bot answered with at least one message."""
    try:
        reply = session.post(target.webhook, json={"sender": sender, "message": text}, timeout=60)
        return reply.status_code == 200 and bool(reply.json())
    except (requests.RequestException, ValueError):
        return False


def percentiles(samples: List[float]) -> Dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "median_ms": statistics.median(samples) * 1000,
        "p95_ms": cuts[94] * 1000,
        "p99_ms": cuts[98] * 1000,
        "max_ms": max(samples) * 1000,
        "messages": len(samples),
    }


def latency(targets: List[Target], conversations: int, progress: Callable[[str], None]) -> Dict[str, Dict]:
    """Conversations one at a time, alternating between the targets so drift hits both alike."""
    samples: Dict[str, List[float]] = {t.name: [] for t in targets}
    errors = {t.name: 0 for t in targets}
    sessions = {t.name: requests.Session() for t in targets}
    for index in range(conversations):
        for target in targets:
            sender = secrets.token_hex(16)
            for text in script(target.paths, index):
                started = time.perf_counter()
                ok = send(sessions[target.name], target, sender, text)
                samples[target.name].append(time.perf_counter() - started)
                errors[target.name] += not ok
        if (index + 1) % max(conversations // 10, 1) == 0:
            progress(f"latency: {index + 1}/{conversations} conversations")
    return {name: {**percentiles(s), "errors": errors[name]} for name, s in samples.items()}


def user_messages_stored(db: Path, prefix: str) -> int:
    with sqlite3.connect(db) as connection:
        (count,) = connection.execute(
            "SELECT COUNT(*) FROM events WHERE type_name = 'user' AND sender_id LIKE ? || '%'",
            (prefix,),
        ).fetchone()
    return count


def throughput(target: Target, concurrency: int, messages: int) -> Dict[str, float]:
    """`concurrency` visitors at once, each running whole conversations back to back."""
    prefix = f"bench{secrets.token_hex(6)}"
    work: Queue = Queue()
    for index in range(max(messages // MESSAGES_PER_CONVERSATION, concurrency)):
        work.put((f"{prefix}{index:06d}", script(target.paths, index)))
    sent = [0] * concurrency
    failed = [0] * concurrency

    def visitor(slot: int) -> None:
        session = requests.Session()
        while True:
            try:
                sender, texts = work.get_nowait()
            except Empty:
                return
            for text in texts:
                sent[slot] += 1
                failed[slot] += not send(session, target, sender, text)

    threads = [threading.Thread(target=visitor, args=(slot,)) for slot in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    total = sum(sent)
    return {
        "concurrency": concurrency,
        "messages": total,
        "seconds": seconds,
        "messages_per_s": total / seconds,
        "errors": sum(failed),
        "lost": total - user_messages_stored(target.tracker_db, prefix),
    }


def peak_rss_mb(pid: Optional[int]) -> Optional[float]:
    """Peak resident memory of a running process (VmHWM), in MB."""
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None
