"""The benchmark harness on a tiny load, so it never rots. Its figures are not judged here:
benchmarks are not tests (see `make bench` and the README)."""
import json
import subprocess

from scripts.serve import BIN, ROOT, server_env


def test_smoke_run_measures_every_stage(tmp_path):
    done = subprocess.run(
        [str(BIN / "python"), "-m", "bench.run", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["machine"]["cores"] >= 1 and results["machine"]["rasa"] == "3.6.21"
    for bot in ("ours", "starter"):
        latency = results["latency"][bot]
        assert latency["messages"] == 20 and latency["errors"] == 0
        assert 0 < latency["median_ms"] <= latency["p99_ms"] <= latency["max_ms"]
        for run in results["throughput"][bot]:
            assert run["messages"] > 0 and run["errors"] == 0 and run["lost"] == 0
    assert results["training"]["starter_s"] > 0
    assert results["memory_peak_mb"]["ours_rasa_server"] > 0
    nlu = results["nlu"]
    assert 0 < nlu["ours"]["accuracy"] <= 1 and 0 < nlu["tfidf_baseline"]["accuracy"] <= 1
    assert nlu["ours"]["examples"] == 580 and nlu["unseen"]["ours"]["examples"] == 467
    flows = results["flows"]
    assert flows["pain_statements"]["examples"] == 125
    assert flows["booking_requests"]["examples"] == 85
    assert 0 < flows["pain_statements"]["pain_reply"] <= 1
    table = (tmp_path / "results.md").read_text()
    assert "| median latency per message |" in table and "TF-IDF" in table
    assert "| pain statements given the pain reply |" in table
