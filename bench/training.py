"""Times `rasa train` from an empty cache, for our bot and the starter bot, and our no-change
retrain (Rasa 3 repackages the model, but should restore every component from its cache)."""
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.serve import BIN, server_env


@dataclass
class TrainResult:
    seconds: float
    model: Path
    reused: bool  # every component came from Rasa's cache: nothing was trained


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
    log = done.stdout + done.stderr
    reused = "Restored component" in log and "Starting to train component" not in log
    return TrainResult(seconds, out / f"{name}.tar.gz", reused)
