"""Runs `python -m bench.run` as `make bench` does, into a test's directory."""
import json
import subprocess
from pathlib import Path
from typing import Any, Dict

from scripts.serve import BIN, ROOT, server_env


def run_bench(out: Path, *options: str, results: str = "results") -> Dict[str, Any]:
    """bench.run with these options, writing into `out`; the `<results>.json` it wrote."""
    done = subprocess.run(
        [str(BIN / "python"), "-m", "bench.run", *options, "--out", str(out)],
        cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / f"{results}.json").read_text())
