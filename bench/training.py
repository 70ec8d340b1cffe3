"""Times `rasa train` from an empty cache, for our bot and the starter bot, and our no-change
retrain (which should reuse the model)."""
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.serve import BIN, server_env


@dataclass
class TrainResult:
    seconds: float
    model: Path
    reused: bool  # Rasa said "Nothing changed" and kept the old model


def train(project: Path, out: Path, cache: Path, name: str) -> TrainResult:
    """`rasa train` in `project` with its own cache folder, so "from empty" means empty."""
    env = server_env({"RASA_CACHE_DIRECTORY": str(cache)})
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "rasa"), "train", "--out", str(out), "--fixed-model-name", name],
        cwd=project, env=env, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"rasa train failed in {project}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return TrainResult(seconds, out / f"{name}.tar.gz", "Nothing changed" in done.stdout)
