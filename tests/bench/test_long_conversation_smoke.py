"""The long-conversation benchmark (bench/long_conversation.py) on 60 messages, so that it does
not rot; the 1,000-message figure is `make bench ARGS=--long`'s. What is asserted is
correctness, not speed: every message answered and stored once by both bots, and a new session
started in ours only."""
import json
import subprocess

from scripts.serve import BIN, ROOT, server_env


def test_both_bots_answer_and_store_every_message(tmp_path):
    done = subprocess.run(
        [str(BIN / "python"), "-m", "bench.run", "--long", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "long_conversation.json").read_text())
    assert results["max_session_messages"] == 20
    for bot in ("ours", "uncapped"):
        assert results[bot]["messages"] == results[bot]["answered"] == results[bot]["stored"] == 60
    assert "| last 20 over the fresh first 20 |" in (tmp_path / "long_conversation.md").read_text()
