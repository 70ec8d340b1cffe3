"""The soak and fault suite (bench/faults.py) on a small load: 5 visitors while the store is
read-only, then locked, the action server paused, then killed, then the Rasa server killed.
Unlike speed figures, "no message lost silently" is a correctness bar, so it is asserted."""
import json
import subprocess

from scripts.serve import BIN, ROOT, server_env


def test_no_message_is_lost_silently_in_any_fault(tmp_path):
    done = subprocess.run(
        [str(BIN / "python"), "-m", "bench.run", "--faults", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "faults.json").read_text())
    assert [f["fault"] for f in results["faults"]] == [
        "store read-only", "store locked", "action server paused",
        "action server killed and restarted", "Rasa server killed and restarted"]
    assert results["sent"] == 5 * 12
    assert results["lost"] == 0, results
    assert results["stored"] + results["reported"] == results["sent"]
    assert results["spool_drained"] is True
    # The faults were felt: some visitors were told something was wrong.
    assert results["told_something_was_wrong"] > 0
