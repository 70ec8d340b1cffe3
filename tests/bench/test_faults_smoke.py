"""The soak and fault suite (bench/faults.py) on a small load: 5 visitors while the store is
read-only, then locked, the action server paused, then killed, then the Rasa server killed.
Unlike speed figures, "no message lost silently" is a correctness bar, so it is asserted."""
from tests.bench.harness import run_bench


def test_no_message_is_lost_silently_in_any_fault(tmp_path):
    results = run_bench(tmp_path, "--faults", "--smoke", results="faults")
    assert [f["fault"] for f in results["faults"]] == [
        "store read-only", "store locked", "action server paused",
        "action server killed and restarted", "Rasa server killed and restarted"]
    assert results["sent"] == 5 * 12
    assert results["lost"] == 0, results
    assert results["stored"] + results["reported"] == results["sent"]
    assert results["spool_drained"] is True
    # The faults were felt: some visitors were told something was wrong.
    assert results["told_something_was_wrong"] > 0
