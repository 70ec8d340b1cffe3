"""Rasa's own starter bot, the baseline: the files `rasa init` writes, in a temporary folder."""
import shutil
from pathlib import Path

import rasa.cli

TEMPLATE = Path(rasa.cli.__file__).parent / "initial_project"


def create(directory: Path) -> Path:
    """Copies the `rasa init` template (its default config) without training it yet."""
    shutil.copytree(TEMPLATE, directory, ignore=shutil.ignore_patterns("__pycache__"))
    return directory
