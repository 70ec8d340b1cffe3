"""The long-conversation benchmark (bench/long_conversation.py) on 60 messages, so that it does
not rot; the 1,000-message figure is `make bench ARGS=--long`'s. What is asserted is
correctness, not speed: every message answered and stored once by both bots, and a new session
started in ours only."""
from tests.bench.harness import run_bench


def test_both_bots_answer_and_store_every_message(tmp_path):
    results = run_bench(tmp_path, "--long", "--smoke", results="long_conversation")
    assert results["max_session_messages"] == 20
    for bot in ("ours", "uncapped"):
        assert results[bot]["messages"] == results[bot]["answered"] == results[bot]["stored"] == 60
    assert "| last 20 over the fresh first 20 |" in (tmp_path / "long_conversation.md").read_text()
