"""The benchmark's results as a Markdown table, each figure next to its baseline and its bar."""
from typing import Any, Dict, List


def ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.2f}x" if baseline else "n/a"


def bar(ok: bool) -> str:
    return "met" if ok else "MISSED"


def markdown(r: Dict[str, Any]) -> str:
    m = r["machine"]
    rows: List[str] = [
        f"Benchmark ({r['mode']}), {r['date']}: {m['cores']} cores, {m['memory_gb']} GB, "
        f"Python {m['python']}, Rasa {m['rasa']}, rasa-sdk {m['rasa_sdk']}, spaCy {m['spacy']}.",
        "",
        "| measure | ours | starter bot | ratio | bar |",
        "| --- | --- | --- | --- | --- |",
    ]
    lat = r["latency"]
    o, s = lat["ours"], lat["starter"]
    rows.append(f"| median latency per message | {o['median_ms']:.1f} ms | {s['median_ms']:.1f} ms | "
                f"{ratio(o['median_ms'], s['median_ms'])} | {bar(o['median_ms'] <= 1.5 * s['median_ms'])} (at most 1.5x) |")
    for key in ("p95_ms", "p99_ms", "max_ms"):
        label = key.replace("_ms", "")
        verdict = bar(o[key] < 100) + " (under 100 ms)" if key == "p99_ms" else ""
        rows.append(f"| {label} latency | {o[key]:.1f} ms | {s[key]:.1f} ms | {ratio(o[key], s[key])} | {verdict} |")
    rows.append(f"| latency run errors | {o['errors']} of {o['messages']} | {s['errors']} of {s['messages']} | | |")
    for mine, theirs in zip(r["throughput"]["ours"], r["throughput"]["starter"]):
        c = mine["concurrency"]
        verdict = ""
        if c == 8:
            ok = mine["messages_per_s"] >= 100 and not mine["errors"] and not mine["lost"]
            verdict = f"{bar(ok)} (100/s, no errors, none lost)"
        rows.append(
            f"| throughput at {c} at once | {mine['messages_per_s']:.0f} msg/s "
            f"({mine['errors']} errors, {mine['lost']} lost) | {theirs['messages_per_s']:.0f} msg/s "
            f"({theirs['errors']} errors, {theirs['lost']} lost) | "
            f"{ratio(mine['messages_per_s'], theirs['messages_per_s'])} | {verdict} |")
    t = r["training"]
    if "ours_s" in t:
        rows.append(f"| full training, empty cache | {t['ours_s']:.0f} s | {t['starter_s']:.0f} s | "
                    f"{ratio(t['ours_s'], t['starter_s'])} | {bar(t['ours_s'] <= t['starter_s'])} (no slower) |")
        rows.append(f"| retrain, nothing changed | {t['retrain_s']:.0f} s, "
                    f"{'every component from cache' if t['retrain_reused_model'] else 'RETRAINED'} | | | "
                    f"{bar(t['retrain_reused_model'])} (no-op) |")
    st, mem = r["startup"], r["memory_peak_mb"]
    rows.append(f"| Rasa server ready | {st['ours']['rasa_server_ready_s']:.1f} s | "
                f"{st['starter']['rasa_server_ready_s']:.1f} s | | {bar(st['ours']['rasa_server_ready_s'] <= 20)} (20 s) |")
    rows.append(f"| action server ready | {st['ours']['action_server_ready_s']:.1f} s | | | |")
    rows.append(f"| Rasa server peak memory | {mem['ours_rasa_server']:.0f} MB | {mem['starter_rasa_server']:.0f} MB | "
                f"{ratio(mem['ours_rasa_server'], mem['starter_rasa_server'])} | {bar(mem['ours_rasa_server'] <= 1024)} (1 GB) |")
    rows.append(f"| action server peak memory | {mem['ours_action_server']:.0f} MB | | | |")
    n = r["nlu"]
    o, b = n["ours"], n["tfidf_baseline"]
    d = n.get("diet") or {}

    def diet(key: str) -> str:
        return f"{d[key]:.3f}" if key in d else "not run"

    rows += ["", "| NLU on the frozen test set | ours | TF-IDF + logistic regression | Rasa's DIET | bar |",
             "| --- | --- | --- | --- | --- |"]
    above = o["accuracy"] >= b["accuracy"] + 0.03 and o["accuracy"] > d.get("accuracy", 1)
    rows.append(f"| intent accuracy ({o['examples']} messages) | {o['accuracy']:.3f} | "
                f"{b['accuracy']:.3f} | {diet('accuracy')} | {bar(o['accuracy'] >= 0.97)} (0.97); "
                f"{bar(above)} (3 points above the baseline, above DIET) |")
    rows.append(f"| macro-F1 | {o['macro_f1']:.3f} | {b['macro_f1']:.3f} | {diet('macro_f1')} | "
                f"{bar(o['macro_f1'] >= 0.96)} (0.96) |")
    rows.append(f"| confident wrong answers | {o['wrong']:.3f} | | | {bar(o['wrong'] <= 0.02)} (at most 0.02) |")
    rows.append(f"| clarifications (two guesses offered) | {o['clarified']:.3f} | | | |")
    rows.append(f"| fell back (what I can help with, phone) | {o['fell_back']:.3f} | | | |")
    if "unseen" in n:
        u = n["unseen"]
        rows.append(f"| accuracy on the {u['ours']['examples']} messages not also in `data/` | "
                    f"{u['ours']['accuracy']:.3f} | {u['tfidf_baseline']['accuracy']:.3f} | | |")
    if "two_part" in n:
        t = n["two_part"]
        rows.append(f"| two-part messages ({t['examples']}): both parts answered or offered | "
                    f"{t['ours']['both']:.3f} (the runner-up alone: {t['runner_up_only']['both']:.3f}) | | | |")
    rows.append(f"| emergency recall | {o['emergency_recall']:.3f} | {b['emergency_recall']:.3f} | "
                f"{diet('emergency_recall')} | {bar(o['emergency_recall'] == 1)} (1.0) |")
    if "train_seconds" in d:
        rows.append(f"| DIET training time | | | {d['train_seconds']:.0f} s | |")
    if "cross_validation" in n:
        cv = n["cross_validation"]
        rows.append(f"| {cv['folds']}-fold cross-validation on training data | accuracy {cv['accuracy']:.3f}, "
                    f"macro-F1 {cv['macro_f1']:.3f} | | |")
    return "\n".join(rows) + "\n"
