"""`make bench`: our bot against Rasa's starter bot in one run (GUIDE.md's bars).

    .venv/bin/python -m bench.run            # full: about an hour on 2 busy cores (DIET)
    .venv/bin/python -m bench.run --quick    # a few minutes, for development (no DIET)
    .venv/bin/python -m bench.run --smoke --out DIR   # tiny load: keeps the harness from rotting
    .venv/bin/python -m bench.run --faults [--smoke]  # soak and fault suite (bench/faults.py)
    .venv/bin/python -m bench.run --safety            # triage on the frozen vignettes only
    .venv/bin/python -m bench.run --long [--smoke]    # one conversation of 1,000 messages
    .venv/bin/python -m bench.run --cluster [--smoke] # 2 replicas vs 1, faults (bench/cluster.py)

Writes bench/results.json and bench/results.md (or into --out).
"""
import argparse
import datetime
import json
import os
import platform
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable, Dict

from bench import (conversations, faults, flows, load, long_conversation, nlu, safety, starter,
                   training)
from bench import cluster as cluster_bench
from bench.report import markdown
from scripts.serve import LOAD_TEST, ROOT, Servers, free_port

SAFETY_TEST_SET = ROOT / "tests" / "safety" / "test.yml"

MODES = {
    # conversations for latency, messages per throughput run, concurrencies, CV folds
    "full": {"conversations": 200, "messages": 600, "concurrency": [1, 8, 32], "folds": 5},
    "quick": {"conversations": 40, "messages": 200, "concurrency": [1, 8, 32], "folds": 3},
    "smoke": {"conversations": 2, "messages": 20, "concurrency": [1, 2], "folds": 0},
}


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def machine() -> Dict[str, Any]:
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "rasa": version("rasa"),
        "rasa_sdk": version("rasa-sdk"),
        "spacy": version("spacy"),
    }


def start_timed(servers: Servers, with_actions: bool) -> Dict[str, float]:
    timings = {}
    if with_actions:
        started = time.perf_counter()
        servers.start_actions()
        timings["action_server_ready_s"] = time.perf_counter() - started
    started = time.perf_counter()
    servers.start_rasa()
    timings["rasa_server_ready_s"] = time.perf_counter() - started
    return timings


def run(mode: str, out: Path) -> Dict[str, Any]:
    settings = MODES[mode]
    results: Dict[str, Any] = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                               "mode": mode, "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        scratch = Path(scratch)
        starter_dir = starter.create(scratch / "starter")
        if mode == "smoke":
            ours_model = ROOT / "models" / "clinic.tar.gz"
        else:
            progress("training our bot from an empty cache")
            ours = training.train(ROOT, scratch / "models", scratch / "cache", "bench")
            progress("training again with nothing changed")
            again = training.train(ROOT, scratch / "models", scratch / "cache", "bench")
            ours_model = ours.model
            results["training"] = {"ours_s": ours.seconds, "retrain_s": again.seconds,
                                   "retrain_reused_model": again.reused}
        progress("training the starter bot (rasa init) from an empty cache")
        baseline = training.train(starter_dir, scratch / "models", scratch / "starter-cache", "starter")
        results.setdefault("training", {})["starter_s"] = baseline.seconds

        ours_servers = Servers(rasa_port=free_port(), action_port=free_port(),
                               tracker_db=scratch / "ours.db", workdir=scratch / "ours",
                               model=ours_model, log_dir=scratch / "ours", **LOAD_TEST)
        starter_servers = Servers(rasa_port=free_port(), action_port=free_port(),
                                  tracker_db=scratch / "starter.db", workdir=scratch / "st",
                                  model=baseline.model, log_dir=scratch / "st",
                                  credentials=starter_dir / "credentials.yml")
        for servers in (ours_servers, starter_servers):
            servers.workdir.mkdir()
        try:
            progress("starting our servers and the starter bot's")
            results["startup"] = {"ours": start_timed(ours_servers, True),
                                  "starter": start_timed(starter_servers, False)}
            targets = [
                load.Target("ours", ours_servers.webhook, ours_servers.tracker_db, conversations.OURS),
                load.Target("starter", starter_servers.webhook, starter_servers.tracker_db,
                            conversations.STARTER),
            ]
            progress(f"latency: {settings['conversations']} conversations each, one at a time")
            results["latency"] = load.latency(targets, settings["conversations"], progress)
            results["throughput"] = {t.name: [] for t in targets}
            for concurrency in settings["concurrency"]:
                for target in targets:
                    progress(f"throughput: {target.name}, {concurrency} at once")
                    results["throughput"][target.name].append(
                        load.throughput(target, concurrency, settings["messages"]))
            progress("visitors' openings: pain statements and booking requests, over REST")
            results["flows"] = flows.measure(ours_servers.webhook)
            results["memory_peak_mb"] = {
                "ours_rasa_server": load.peak_rss_mb(ours_servers.rasa.pid),
                "ours_action_server": load.peak_rss_mb(ours_servers.actions.pid),
                "starter_rasa_server": load.peak_rss_mb(starter_servers.rasa.pid),
            }
        finally:
            ours_servers.stop()
            starter_servers.stop()
        progress("triage: the frozen safety test set, ours and the first version")
        results["safety"] = safety.compare(SAFETY_TEST_SET)
        progress("NLU: the frozen test set, ours, the TF-IDF baseline and Rasa's DIET")
        results["nlu"] = nlu.test_set_comparison(ours_model, with_diet=mode == "full")
        if settings["folds"]:
            progress(f"NLU: {settings['folds']}-fold cross-validation of our pipeline")
            results["nlu"]["cross_validation"] = nlu.cross_validation(settings["folds"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(report(results))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_const", dest="mode", const="quick")
    parser.add_argument("--smoke", action="store_const", dest="mode", const="smoke")
    parser.add_argument("--faults", action="store_true", help="only the soak and fault suite")
    parser.add_argument("--safety", action="store_true", help="only triage on the vignettes")
    parser.add_argument("--long", action="store_true", help="only one very long conversation")
    parser.add_argument("--cluster", action="store_true",
                        help="only the cluster: 2 replicas against 1, and its faults")
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    args = parser.parse_args()
    scale = "smoke" if args.mode == "smoke" else "full"
    if args.safety:
        run_safety(args.out)
    elif args.faults or args.long or args.cluster:
        part = "faults" if args.faults else "long_conversation" if args.long else "cluster"
        run_part(part, scale, args.out)
    else:
        print(report(run(args.mode or "full", args.out)))


def report(results: Dict[str, Any]) -> str:
    return "\n".join([markdown(results), flows.markdown(results["flows"]),
                      safety.markdown(results["safety"])])


def run_safety(out: Path) -> Dict[str, Any]:
    return write_part(out, "safety", safety.compare(SAFETY_TEST_SET), safety.markdown)


# The parts that start servers of their own, each in a scratch directory under /tmp (as root,
# the cluster's PostgreSQL runs as the postgres user, which must reach its data there).
SCRATCH_PARTS = {
    "faults": (faults.soak, faults.markdown),
    "long_conversation": (long_conversation.measure, long_conversation.markdown),
    "cluster": (cluster_bench.measure, cluster_bench.markdown),
}


def run_part(name: str, scale: str, out: Path) -> Dict[str, Any]:
    measure, render = SCRATCH_PARTS[name]
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as scratch:
        results = measure(scale, Path(scratch), progress)
    return write_part(out, name, {"mode": scale, **results}, render)


def write_part(out: Path, name: str, results: Dict[str, Any],
               render: Callable[[Dict[str, Any]], str]) -> Dict[str, Any]:
    """<name>.json (the figures, dated, with the machine) and <name>.md in `out`; prints the
    Markdown."""
    results = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
               "machine": machine(), **results}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{name}.md").write_text(render(results))
    print(render(results))
    return results


if __name__ == "__main__":
    main()
