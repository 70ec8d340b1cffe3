"""The cluster of `make cluster` (scripts/cluster.py) under load and faults (issue 13).

    .venv/bin/python -m bench.run --cluster            # full (make bench ARGS=--cluster)
    .venv/bin/python -m bench.run --cluster --smoke    # a few hundred messages, for the tests

One cluster, started in this process with scripts.cluster.Cluster on free loopback ports under a
scratch VAR_DIR: PostgreSQL, Redis, the action server, two Rasa replicas (started as the
launcher starts them, with deploy/endpoints.yml) and nginx in front. As for bench/load.py and
bench/faults.py, the visitor limits are lifted (scripts.serve.LOAD_TEST): every visitor here
comes from one address at machine speed.

1. Throughput: 32 conversations at once through nginx, to one replica (a second nginx whose
   upstream is the first replica only) and to both (the cluster's own nginx), in the same run,
   alternating; bench/load.py's throughput run, with "lost" counted in PostgreSQL's events
   table (a message sent and acknowledged, missing there). Bar: 2 replicas at least 1.6x one,
   0 errors, 0 lost, with the machine's core count next to it (on 2 cores the client, nginx,
   PostgreSQL and the action server share the cores with the replicas).
2. Faults: many visitors at once through nginx while, in turn, one replica is SIGKILLed (and
   restarted as the launcher's supervision restarts it, after RESTART_DELAYS[0]), Redis is
   stopped and started again, the action server is stopped for a few seconds, and PostgreSQL is
   stopped and started again. Each visitor message ends as bench/faults.py classifies it (stored
   / reported to the visitor / lost / stored twice), counted under the fault it met. A message that gets no answer, or nginx's
   502/503/504 (no replica answered it), is sent again after a second, as the widget's "Try
   again" does (bounded: bench/faults.RETRIES). After the Redis and PostgreSQL restarts every
   replica must answer a fresh conversation normally again, with the same process (PID);
   while the action server is stopped every reply must carry the clinic's phone number.

Every loop is bounded in count and time.
"""
import json
import os
import resource
import secrets
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from unittest import mock

import requests

from bench import conversations, faults, load
from clinic.content import load_content
from scripts.cluster import Cluster, Nginx
from scripts.serve import LOAD_TEST, RESTART_DELAYS, free_port, stop

CONCURRENCY = 32
SCALES = {
    # Throughput: messages per run, and the order of the runs (replicas). Faults: visitors, each
    # sending messages one at a time, pace_s apart, for as long as the faults last (at most
    # `most` each), and at least `least` each (the rest back to back once the faults are over);
    # gap_s of normal traffic before each fault; down_s that Redis, PostgreSQL and the action
    # server stay down.
    "full": {"messages": 1200, "order": (1, 2, 2, 1), "visitors": 48, "least": 64,
             "most": 400, "pace_s": 0.5, "gap_s": 5.0, "down_s": 5.0},
    "smoke": {"messages": 320, "order": (1, 2), "visitors": 10, "least": 20, "most": 200,
              "pace_s": 1.0, "gap_s": 3.0, "down_s": 3.0},
}
RATIO_BAR = 1.6
DEADLINE_S = 900  # the fault scenario, whatever happens
RECOVERY_S = 60  # for a replica to answer normally again after a restart of Redis or PostgreSQL
GATEWAY_ERRORS = {502, 503, 504}  # nginx: no replica answered; the widget offers "Try again"
Progress = Callable[[str], None]


# The cluster ------------------------------------------------------------------------------

def free_ports(count: int) -> List[int]:
    ports: List[int] = []
    for _ in range(100 * count):
        port = free_port()
        if port not in ports:
            ports.append(port)
        if len(ports) == count:
            return ports
    raise RuntimeError("no free loopback ports")


@contextmanager
def started_cluster(var: Path, progress: Progress, replicas: int = 2) -> Iterator[Cluster]:
    """PostgreSQL, Redis, the action server, the replicas and nginx (not the demo page nor the
    console), as Cluster.start starts them; stopped as the launcher stops them. `var` must be
    reachable by the postgres user when we are root (a directory made under /tmp is)."""
    ports = free_ports(7 + replicas)
    cluster = Cluster(var=var, replicas=replicas, chat_port=ports[0],
                      replica_ports=ports[7:], action_port=ports[1], web_port=ports[2],
                      console_port=ports[3], postgres_port=ports[4], redis_port=ports[5])
    for replica in cluster.rasa:
        replica.channel_settings = LOAD_TEST["channel_settings"]
    cluster.front.action_env = LOAD_TEST["action_env"]
    cluster.timings = {}
    try:
        progress(f"cluster: PostgreSQL and Redis under {var}")
        started = time.monotonic()
        cluster.start_infrastructure()
        cluster.front.start_actions()
        cluster.timings["infrastructure_s"] = round(time.monotonic() - started, 1)
        progress(f"cluster: {replicas} Rasa replicas")
        started = time.monotonic()
        cluster.start_replicas()
        cluster.timings["replicas_ready_s"] = round(time.monotonic() - started, 1)
        cluster.nginx.start()
        yield cluster
    finally:
        cluster.stop()


@contextmanager
def front_for(cluster: Cluster, replicas: int) -> Iterator[Nginx]:
    """nginx in front of the first `replicas` replicas: the cluster's own for all of them, else
    a second nginx of the same configuration."""
    if replicas == len(cluster.rasa):
        yield cluster.nginx
        return
    workdir = cluster.dir / f"nginx-{replicas}"
    workdir.mkdir(exist_ok=True, mode=0o700)
    nginx = Nginx(workdir, f"127.0.0.1:{free_port()}", cluster.replica_ports[:replicas])
    try:
        nginx.start()
        yield nginx
    finally:
        nginx.stop()


def webhook_of(nginx: Nginx) -> str:
    return f"http://{nginx.listen}/webhooks/rest/webhook"


def replica_health(cluster: Cluster, number: int) -> Dict[str, Any]:
    url = f"{cluster.rasa[number].rasa_url}/webhooks/rest/"
    return requests.get(url, timeout=5).json()


def pids(cluster: Cluster) -> Dict[str, Optional[int]]:
    def pid(process) -> Optional[int]:
        return process.pid if process is not None and process.poll() is None else None

    found = {f"rasa-{n}": pid(replica.rasa) for n, replica in enumerate(cluster.rasa, 1)}
    found.update({"actions": pid(cluster.front.actions), "redis": pid(cluster.redis.process),
                  "postgres": pid(cluster.postgres.process), "nginx": pid(cluster.nginx.process)})
    return found


# PostgreSQL: what was stored ---------------------------------------------------------------

def stored_user_messages(tracker_url: str, prefix: str) -> Counter:
    """(sender, text) -> how many times that visitor message is in the events table."""
    from sqlalchemy import create_engine, text

    engine = create_engine(tracker_url)
    try:
        with engine.connect() as db:
            rows = db.execute(text("SELECT sender_id, data FROM events WHERE type_name = 'user' "
                                   "AND sender_id LIKE :prefix"), {"prefix": prefix + "%"}).all()
    finally:
        engine.dispose()
    return Counter((sender, json.loads(data)["text"]) for sender, data in rows)


def count_in_postgresql(tracker_url: str, prefix: str) -> int:
    """bench/load.py's user_messages_stored, for PostgreSQL (its tracker_db is this URL)."""
    return sum(stored_user_messages(tracker_url, prefix).values())


# 1. Throughput ----------------------------------------------------------------------------

def throughput(cluster: Cluster, replicas: int, messages: int) -> Dict[str, Any]:
    """bench/load.py's throughput run through nginx, "lost" counted in PostgreSQL; with the
    CPU time each part of the cluster (and this client) spent per message."""
    with front_for(cluster, replicas) as nginx:
        target = load.Target(f"{replicas} replicas", webhook_of(nginx), cluster.tracker_url,
                             conversations.OURS)
        roots = {**{k: v for k, v in pids(cluster).items() if k != "nginx"},
                 "nginx": nginx.process.pid}
        before = cpu_seconds(roots)
        with mock.patch.object(load, "user_messages_stored", count_in_postgresql):
            result = load.throughput(target, CONCURRENCY, messages)
        after = cpu_seconds(roots)
    used = {name: after[name] - before[name] for name in roots}
    used["client"] = after["client"] - before["client"]
    per_message = {name: round(1000 * seconds / result["messages"], 2)
                   for name, seconds in used.items()}
    return {"replicas": replicas, **result, "cpu_ms_per_message": per_message,
            "cores_busy": round(sum(used.values()) / result["seconds"], 2)}


def cpu_seconds(roots: Dict[str, Optional[int]]) -> Dict[str, float]:
    """CPU seconds (user + system) used so far by each process and its descendants (PostgreSQL's
    backends, nginx's workers), and by this process (the load client): from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    table: Dict[int, Tuple[int, float]] = {}  # pid -> (parent, own + reaped children's CPU)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / tick)
    children: Dict[int, List[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)

    def tree(pid: int) -> float:
        return table.get(pid, (0, 0.0))[1] + sum(tree(child) for child in children.get(pid, []))

    found = {name: tree(pid) if pid else 0.0 for name, pid in roots.items()}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    found["client"] = usage.ru_utime + usage.ru_stime
    return found


def compare_throughput(cluster: Cluster, scale: str, progress: Progress) -> Dict[str, Any]:
    settings = SCALES[scale]
    progress("throughput: warming up both replicas")
    throughput(cluster, len(cluster.rasa), 4 * CONCURRENCY)
    runs = []
    for replicas in settings["order"]:
        progress(f"throughput: {CONCURRENCY} conversations at once, {replicas} replica(s)")
        runs.append(throughput(cluster, replicas, settings["messages"]))
        progress(f"throughput: {runs[-1]['messages_per_s']:.1f} msg/s, "
                 f"{runs[-1]['errors']} errors, {runs[-1]['lost']} lost")

    def total(replicas: int) -> Dict[str, Any]:
        mine = [r for r in runs if r["replicas"] == replicas]
        sent, seconds = sum(r["messages"] for r in mine), sum(r["seconds"] for r in mine)
        cpu = {name: round(sum(r["cpu_ms_per_message"][name] * r["messages"] for r in mine)
                           / sent, 2) for name in mine[0]["cpu_ms_per_message"]}
        return {"replicas": replicas, "messages": sent, "seconds": round(seconds, 1),
                "messages_per_s": round(sent / seconds, 1),
                "errors": sum(r["errors"] for r in mine), "lost": sum(r["lost"] for r in mine),
                "cpu_ms_per_message": cpu,
                "cores_busy": round(sum(r["cores_busy"] * r["seconds"] for r in mine) / seconds,
                                    2)}

    one, two = total(1), total(2)
    ratio = two["messages_per_s"] / one["messages_per_s"] if one["messages_per_s"] else 0.0
    return {"concurrency": CONCURRENCY, "one": one, "two": two, "ratio": round(ratio, 2),
            "runs": runs,
            "met": ratio >= RATIO_BAR and not any(r["errors"] or r["lost"] for r in runs)}


# 2. Faults --------------------------------------------------------------------------------

@dataclass
class Reply:
    sent_at: float
    answered_at: float
    status: int
    told: bool  # the visitor was told something was wrong (an error, or the phone number)
    phone: bool  # the clinic's phone number is in the reply


@dataclass
class Visitor(faults.Visitor):
    attempts: Counter = field(default_factory=Counter)  # text -> requests sent
    first_sent: Dict[str, float] = field(default_factory=dict)  # text -> when (monotonic)
    decided: Dict[str, float] = field(default_factory=dict)  # text -> its last reply (monotonic)
    replies: List[Reply] = field(default_factory=list)


def said(messages: Any) -> str:
    """The text of a reply as the widget shows it: messages and their buttons' titles."""
    if not isinstance(messages, list):
        return ""
    parts = []
    for message in messages:
        if isinstance(message, dict):
            parts.append(str(message.get("text") or ""))
            parts += [str(b.get("title") or "") for b in message.get("buttons") or []
                      if isinstance(b, dict)]
    return " ".join(parts)


def run_visitor(webhook: str, visitor: Visitor, texts: List[str], least: int, pace_s: float,
                warnings: List[str], phone: str, calm: threading.Event,
                deadline: float) -> None:
    """One visitor's messages, one at a time, paced, until the faults are over (`calm`) and at
    least `least` are sent (at most len(texts))."""
    session = requests.Session()
    for count, text in enumerate(texts):
        if (count >= least and calm.is_set()) or time.monotonic() > deadline:
            return
        visitor.sent.append(text)
        started = visitor.first_sent[text] = time.monotonic()
        message_id = secrets.token_hex(16)  # the same on every attempt, as the widget's
        for attempt in range(faults.RETRIES):
            visitor.attempts[text] += 1
            sent_at = time.monotonic()
            try:
                reply = session.post(webhook, timeout=30, json={
                    "sender": visitor.sender, "message": text, "message_id": message_id,
                    "retry": attempt > 0})
                status = reply.status_code
                body = reply.json() if status not in GATEWAY_ERRORS else None
            except (requests.RequestException, ValueError):
                status, body = 0, None
            if status == 0 or status in GATEWAY_ERRORS:
                # No replica answered: the widget shows the phone number and "Try again".
                visitor.outcomes[text] = "reported"
                visitor.notices += 1
                visitor.replies.append(Reply(sent_at, time.monotonic(), status, True, False))
                time.sleep(1)
                continue
            words = said(body)
            told = status != 200 or any(w in words for w in warnings)
            visitor.notices += told
            visitor.replies.append(Reply(sent_at, time.monotonic(), status, told,
                                         phone in words))
            # What the visitor last saw decides: a retry answered normally must be stored.
            visitor.outcomes[text] = "reported" if told else "answered"
            break
        visitor.decided[text] = time.monotonic()
        visitor.longest_s = max(visitor.longest_s, visitor.decided[text] - started)
        if not calm.is_set():
            calm.wait(pace_s)


def answers_again(cluster: Cluster, number: int, warnings: List[str],
                  timeout: float = RECOVERY_S) -> Optional[float]:
    """Seconds until replica `number` (0-based) answers a fresh conversation normally, straight
    (not through nginx); None if it does not within `timeout`."""
    started = time.monotonic()
    webhook = cluster.rasa[number].webhook
    session = requests.Session()
    while time.monotonic() - started < timeout:
        try:
            reply = session.post(webhook, timeout=10, json={
                "sender": f"probe{secrets.token_hex(8)}", "message": "how much does it cost"})
            words = said(reply.json())
            if reply.status_code == 200 and words and not any(w in words for w in warnings):
                return round(time.monotonic() - started, 1)
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.5)
    return None


KILL = "Rasa replica 1 killed (SIGKILL)"
REDIS = "Redis stopped and started again"
ACTIONS = "action server stopped, started again"
POSTGRES = "PostgreSQL stopped and started again"


def run_faults(cluster: Cluster, settings: Dict[str, Any], warnings: List[str],
               progress: Progress) -> Tuple[List[Dict[str, Any]], Dict[str, float]]:
    """Each fault in turn, gap_s of normal traffic before each (PostgreSQL last: the turns it
    makes the replicas keep are written after it); returns the timeline and the action server's
    outage (from its exit to the start of its restart, monotonic clock)."""
    gap, down = settings["gap_s"], settings["down_s"]
    timeline: List[Dict[str, Any]] = []
    outage: Dict[str, float] = {}

    def restarted(name: str, server: Any) -> None:
        """Redis or PostgreSQL goes away and comes back; the replicas keep running."""
        time.sleep(gap)
        progress(f"faults: {name}")
        before = pids(cluster)
        began = time.monotonic()
        server.stop()
        time.sleep(down)
        server.start()
        after = pids(cluster)
        replicas = []
        for n in range(len(cluster.rasa)):
            pid = before[f"rasa-{n + 1}"]
            replicas.append({"replica": n + 1, "pid": pid,
                             "same_pid": pid is not None and after[f"rasa-{n + 1}"] == pid,
                             "answered_again_s": answers_again(cluster, n, warnings)})
        timeline.append({"fault": name, "at_s": began, "ended": time.monotonic(),
                         "down_s": down, "replicas": replicas})
        progress(f"faults: replicas answered again after "
                 f"{[r['answered_again_s'] for r in replicas]} s")

    # A replica dies: nginx routes around it; the launcher restarts it after RESTART_DELAYS[0].
    time.sleep(gap)
    progress("faults: Rasa replica 1 killed (SIGKILL)")
    replica = cluster.rasa[0]
    began = time.monotonic()
    killed_pid = replica.rasa.pid
    replica.rasa.kill()
    replica.rasa.wait()
    time.sleep(RESTART_DELAYS[0])
    restart_started = time.monotonic()
    try:
        replica.start_rasa()
        restart_s: Optional[float] = round(time.monotonic() - restart_started, 1)
    except RuntimeError as error:
        progress(f"faults: replica 1 did not come back: {error}")
        restart_s = None
    timeline.append({"fault": KILL, "at_s": began, "ended": time.monotonic(),
                     "killed_pid": killed_pid, "new_pid": pids(cluster)["rasa-1"],
                     "restart_s": restart_s})
    progress(f"faults: replica 1 back after {restart_s} s")

    restarted(REDIS, cluster.redis)

    # The action server is stopped for a few seconds, then started again.
    time.sleep(gap)
    progress("faults: action server stopped")
    began = time.monotonic()
    stop(cluster.front.actions)  # SIGINT, as the launcher stops it; returns once it exited
    outage["from"] = time.monotonic()
    time.sleep(down)
    outage["to"] = time.monotonic()
    cluster.front.start_actions()
    timeline.append({"fault": ACTIONS, "at_s": began, "ended": time.monotonic(),
                     "down_s": round(outage["to"] - outage["from"], 1)})

    restarted(POSTGRES, cluster.postgres)
    time.sleep(gap)
    return timeline, outage


def wait_until_written(cluster: Cluster, deadline: float) -> bool:
    """True once no replica keeps turns that PostgreSQL has not taken yet (their spools)."""
    end = min(deadline, time.monotonic() + RECOVERY_S)
    while time.monotonic() < end:
        try:
            if all(replica_health(cluster, n).get("status") == "ok"
                   for n in range(len(cluster.rasa))):
                return True
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.5)
    return False


def fault_scenario(cluster: Cluster, scale: str, progress: Progress) -> Dict[str, Any]:
    settings = SCALES[scale]
    content = load_content()
    warnings = [content.messages[key] for key in ("not_saved", "unavailable", "rate_limited")]
    phone = content.clinic.phone
    prefix = f"cf{secrets.token_hex(5)}"
    visitors = [Visitor(f"{prefix}{n:04d}{secrets.token_hex(6)}")
                for n in range(settings["visitors"])]
    deadline = time.monotonic() + DEADLINE_S
    calm = threading.Event()
    webhook = webhook_of(cluster.nginx)
    pids_before = pids(cluster)
    threads = [threading.Thread(target=run_visitor, daemon=True, args=(
        webhook, visitor, faults.messages_for(n, settings["most"]), settings["least"],
        settings["pace_s"], warnings, phone, calm, deadline))
        for n, visitor in enumerate(visitors)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        timeline, outage = run_faults(cluster, settings, warnings, progress)
    finally:
        calm.set()  # the rest of the messages back to back
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 1))
    seconds = time.monotonic() - started
    progress("faults: waiting for the replicas' kept turns to be written")
    written = wait_until_written(cluster, deadline)
    pids_after = pids(cluster)
    stored = stored_user_messages(cluster.tracker_url, prefix)

    sent = sum(len(v.sent) for v in visitors)
    results = faults.summary(visitors, stored, [], seconds, written,
                             {"visitors": len(visitors), "messages": round(sent / len(visitors))})
    counts: Counter = Counter()
    by_fault: Dict[str, Counter] = {}
    examples: List[Dict[str, Any]] = []
    for visitor in visitors:
        for text in visitor.sent:
            times, outcome = stored[(visitor.sender, text)], visitor.outcomes.get(text)
            tries = visitor.attempts[text]
            kinds = {"acknowledged": outcome == "answered",
                     "acknowledged_once": outcome == "answered" and times == 1,
                     "lost": outcome == "answered" and not times,
                     "reported_not_stored": outcome != "answered" and not times,
                     "duplicated": times > 1, "retried": tries > 1,
                     "duplicated_after_retry": times > 1 and tries > 1}
            counts.update(kind for kind, yes in kinds.items() if yes)
            during = fault_of(timeline, visitor.decided.get(text, visitor.first_sent[text]))
            if (kinds["lost"] or kinds["duplicated"]) and len(examples) < 20:
                examples.append({"sender": visitor.sender, "text": text, "stored": times,
                                 "requests": tries, "fault": during,
                                 "first_sent_s": round(visitor.first_sent[text] - started, 1)})
            by_fault.setdefault(during, Counter()).update(
                ["sent", *(kind for kind, yes in kinds.items() if yes)])
    outage_replies = [r for v in visitors for r in v.replies
                      if r.sent_at >= outage["from"] and r.answered_at <= outage["to"]]
    for fault in timeline:  # the load went on through each fault
        began, ended = fault["at_s"], fault.pop("ended")
        fault["requests_during"] = sum(1 for v in visitors for r in v.replies
                                       if began <= r.sent_at <= ended)
        fault["at_s"], fault["seconds"] = round(began - started, 1), round(ended - began, 1)
    results.update({
        "messages_each": f"{settings['least']}-{settings['most']}", "faults": timeline,
        **{kind: counts[kind] for kind in ("acknowledged", "acknowledged_once",
                                           "reported_not_stored", "retried",
                                           "duplicated_after_retry")},
        "by_fault": {name: dict(found) for name, found in by_fault.items()},
        "lost_or_duplicated_examples": examples,
        "gateway_errors": sum(1 for v in visitors for r in v.replies
                              if r.status in GATEWAY_ERRORS or not r.status),
        "action_outage": {"seconds": round(outage["to"] - outage["from"], 1),
                          "replies": len(outage_replies),
                          "with_phone_number": sum(r.phone for r in outage_replies)},
        "pids": {"before": pids_before, "after": pids_after},
    })
    return results


def fault_of(timeline: List[Dict[str, Any]], at: float, after_s: float = 25) -> str:
    """The fault a message whose last reply came at `at` met: the latest one begun before
    that, if it ended less than after_s before (a killed replica's tickets live 20 s, the
    replicas retry kept turns every 2 s); else none."""
    for fault in reversed(timeline):
        if fault["at_s"] <= at:
            return fault["fault"] if at <= fault["ended"] + after_s else "no fault"
    return "no fault"


# Both, for bench/run.py -------------------------------------------------------------------

def measure(scale: str, workdir: Path, progress: Progress) -> Dict[str, Any]:
    results: Dict[str, Any] = {"load_average_before": [round(x, 2) for x in os.getloadavg()]}
    with started_cluster(workdir, progress) as cluster:
        results["startup"] = dict(cluster.timings)
        results["throughput"] = compare_throughput(cluster, scale, progress)
        results["faults"] = fault_scenario(cluster, scale, progress)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["bars_met"] = {"throughput": results["throughput"]["met"],
                           "kill_a_replica": clean(results["faults"], KILL),
                           "every_fault": clean(results["faults"])}
    return results


def clean(f: Dict[str, Any], fault: Optional[str] = None) -> bool:
    """No acknowledged message lost, none stored twice: while `fault` lasted, else over the
    whole scenario (and then every kept turn written in the end)."""
    if fault is not None:
        found = f["by_fault"].get(fault, {})
        return not found.get("lost") and not found.get("duplicated")
    return not f["lost"] and not f["duplicated"] and f["spool_drained"]


def ceiling(run: Dict[str, Any], cores: int) -> float:
    """The messages a second this run's CPU cost per message would allow if the machine were
    the cluster's alone: every part together within `cores`, and each replica (one Python
    process) within one core; an estimate."""
    cpu = run["cpu_ms_per_message"]
    rasa = sum(ms for name, ms in cpu.items() if name.startswith("rasa-"))
    return min(run["replicas"] * 1000 / rasa, cores * 1000 / sum(cpu.values()))


def markdown(results: Dict[str, Any]) -> str:
    m, t, f = results["machine"], results["throughput"], results["faults"]
    one, two = t["one"], t["two"]

    def run(r: Dict[str, Any]) -> str:
        return f"{r['messages_per_s']:.0f} msg/s ({r['errors']} errors, {r['lost']} lost)"

    def cpu(r: Dict[str, Any], *names: str) -> str:
        return f"{sum(r['cpu_ms_per_message'].get(n, 0) for n in names):.1f} ms"

    rows = [("Rasa replicas", ("rasa-1", "rasa-2")), ("action server", ("actions",)),
            ("PostgreSQL", ("postgres",)), ("nginx", ("nginx",)), ("Redis", ("redis",)),
            ("load client", ("client",))]
    total = [name for _, names in rows for name in names]
    lines = [
        f"Cluster benchmark ({results['mode']}), {results['date']}: {m['cores']} cores, "
        f"{m['memory_gb']} GB, Rasa {m['rasa']}; load average {results['load_average_before'][0]} "
        f"before, {results['load_average_after'][0]} after (other work on the machine). nginx, "
        f"the Rasa replicas, the action server, PostgreSQL, Redis and the load client all on "
        f"this machine; two replicas ready in {results['startup']['replicas_ready_s']} s.",
        "",
        "| measure | 1 replica | 2 replicas | ratio | bar |",
        "| --- | --- | --- | --- | --- |",
        f"| throughput, {t['concurrency']} conversations at once through nginx "
        f"({one['messages']} + {two['messages']} messages) | {run(one)} | {run(two)} | "
        f"{t['ratio']:.2f}x | {'met' if t['met'] else 'MISSED'} (at least {RATIO_BAR}x, no "
        f"errors, none lost; on {m['cores']} cores) |",
        *[f"| CPU per message: {label} | {cpu(one, *names)} | {cpu(two, *names)} | | |"
          for label, names in rows],
        f"| CPU per message, all of it | {cpu(one, *total)} | {cpu(two, *total)} | | |",
        f"| cores kept busy (of {m['cores']}) | {one['cores_busy']} | {two['cores_busy']} | | |",
        f"| ceiling at that CPU cost if the machine were the cluster's alone (estimate) | "
        f"{ceiling(one, m['cores']):.0f} msg/s | {ceiling(two, m['cores']):.0f} msg/s | "
        f"{ceiling(two, m['cores']) / ceiling(one, m['cores']):.2f}x | |",
        "",
    ]
    def recovery(fault: Dict[str, Any]) -> str:
        if "restart_s" in fault:
            return (f"restarted after {RESTART_DELAYS[0]} s, as the launcher does: answering "
                    f"again {fault['restart_s']} s later" if fault["restart_s"] is not None
                    else "NOT answering again")
        if "replicas" in fault:
            return f"down {fault['down_s']} s; " + ", ".join(
                f"replica {r['replica']} answered again {r['answered_again_s']} s after"
                f"{'' if r['same_pid'] else ' (A NEW PROCESS)'}" for r in fault["replicas"])
        return f"down {fault['down_s']} s"

    def row(name: str, found: Dict[str, int], extra: str, bar: str) -> str:
        return (f"| {name} | {found.get('sent', 0)} | {found.get('lost', 0)} | "
                f"{found.get('duplicated', 0)} | {found.get('reported_not_stored', 0)} | "
                f"{found.get('retried', 0)} | {extra} | {bar} |")

    outage = f["action_outage"]
    lines += [
        f"Faults through nginx: {f['visitors']} visitors, {f['sent']} messages in "
        f"{f['seconds']} s ({f['acknowledged']} acknowledged, {f['acknowledged_once']} of them "
        f"stored exactly once; longest stall {f['longest_stall_s']} s; every kept turn written "
        f"in the end: {'yes' if f['spool_drained'] else 'NO'}). Each message is counted under "
        f"the fault during which (or up to 25 s after which) it got its last reply; a message "
        f"with no answer, or nginx's 502, was sent again a second later.",
        "",
        "| fault | messages | lost (acknowledged, not stored) | stored twice | reported to the "
        "visitor, not stored | sent again | recovery | bar |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for fault in f["faults"]:
        name, found = fault["fault"], f["by_fault"].get(fault["fault"], {})
        bar = ""
        if name == KILL:
            bar = f"{'met' if clean(f, KILL) else 'MISSED'} (0 acknowledged messages lost)"
        elif name == ACTIONS:
            bar = (f"{outage['with_phone_number']} of {outage['replies']} replies meanwhile "
                   f"carried the phone number")
        elif name in (REDIS, POSTGRES):
            bar = ("replicas reconnected, not restarted" if all(
                r["same_pid"] and r["answered_again_s"] is not None
                for r in fault["replicas"]) else "a replica did NOT reconnect")
        lines.append(row(f"{name}, at {fault['at_s']} s", found, recovery(fault), bar))
    lines.append(row("no fault", f["by_fault"].get("no fault", {}), "", ""))
    lines.append(row("all", {"sent": f["sent"], "lost": f["lost"],
                             "duplicated": f["duplicated"],
                             "reported_not_stored": f["reported_not_stored"],
                             "retried": f["retried"]}, "",
                     f"{'met' if clean(f) else 'MISSED'} (none lost, none stored twice)"))
    return "\n".join(lines) + "\n"
