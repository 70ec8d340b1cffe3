"""CSV, JSON and Rasa NLU YAML renderings of what the pages show."""
import csv
import io
import json
import re
from typing import Any, Dict, Iterable, List, Sequence

from console.similarity import top_words


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ is a formula to spreadsheet programs: make it plain text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: Iterable[Dict[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, default=str)


def _stub_name(texts: List, number: int) -> str:
    words = [re.sub(r"[^a-z0-9]", "", w) for w in top_words(texts)]
    return "_".join(["todo", str(number)] + [w for w in words if w])


def nlu_stubs(groups: List[Dict[str, Any]]) -> str:
    """Rasa 3 NLU training data: one placeholder intent per group, to rename or merge."""
    lines = ['version: "3.1"', "", "# Unanswered visitor messages grouped by similarity (most",
             "# frequent first). Rename each intent to an existing one or a new one, then add an",
             "# answer for it. Personal data is masked.", "nlu:"]
    for number, group in enumerate(groups, 1):
        lines.append(f"# {group['count']} message(s)")
        lines.append(f"- intent: {_stub_name(group['texts'], number)}")
        lines.append("  examples: |")
        for text, _count in group["texts"]:
            # A literal block takes any characters; line breaks must go, and brackets would
            # read as Rasa entity annotations.
            plain = " ".join(text.split()).replace("[", "(").replace("]", ")")
            lines.append("    - " + plain)
    return "\n".join(lines) + "\n"
