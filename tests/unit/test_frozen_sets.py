"""The frozen test sets stay exactly as written before tuning (README, "Tests")."""
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_frozen_test_sets_are_unchanged():
    lines = (ROOT / "tests" / "frozen-test-sets.sha256").read_text().splitlines()
    assert len(lines) == 5
    for line in lines:
        digest, name = line.split()
        assert hashlib.sha256((ROOT / name).read_bytes()).hexdigest() == digest, name
