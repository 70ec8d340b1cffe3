"""The benchmark harness on a tiny load, so it never rots. Its figures are not judged here:
benchmarks are not tests (see `make bench` and the README)."""
from tests.bench.harness import run_bench


def test_smoke_run_measures_every_stage(tmp_path):
    results = run_bench(tmp_path, "--smoke")
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
    assert nlu["two_part"]["examples"] == 120
    assert 0 < nlu["two_part"]["ours"]["both"] <= 1
    flows = results["flows"]
    assert flows["pain_statements"]["examples"] == 125
    assert flows["booking_requests"]["examples"] == 85
    assert 0 < flows["pain_statements"]["pain_reply"] <= 1
    table = (tmp_path / "results.md").read_text()
    assert "| median latency per message |" in table and "TF-IDF" in table
    assert "| pain statements given the pain reply |" in table
    assert "| two-part messages (120): both parts answered or offered |" in table
