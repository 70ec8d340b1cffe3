"""Chart geometry for the home page: plain numbers and strings that templates/_charts.html turns
into inline SVG (autoescaped like everything else). No JavaScript, nothing fetched.

Every chart is WIDTH units wide (its viewBox), drawn at the width of its box: on a 360 px
phone about one unit per pixel, so FONT-unit text reads at about 12-13 px. Axis labels are
thinned until their estimated extents are apart, so they never overlap; a bar list puts each
label on its own line above its bar and shortens it to fit.
"""
import math
from datetime import date
from typing import Any, Dict, List, Optional, Sequence, Tuple

WIDTH = 320
FONT = 13
CHAR = 0.62 * FONT  # a generous average width of one character of system-ui at FONT
GAP = 8  # at least this much between two axis labels
TOP_ANSWERS = 10  # answers shown in the helpful-rate chart (the table has them all)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def text_width(text: str) -> float:
    return len(text) * CHAR


def fit(text: str, width: float) -> str:
    """`text`, shortened with an ellipsis to about `width` units."""
    most = max(1, int(width // CHAR))
    return text if len(text) <= most else text[:most - 1] + "\u2026"


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return int(step * power)
    return int(10 * power)


def short_date(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}"


def _label_extent(center: float, text: str, anchor: str) -> Tuple[float, float]:
    width = text_width(text)
    if anchor == "start":
        return center, center + width
    if anchor == "end":
        return center - width, center
    return center - width / 2, center + width / 2


def axis_labels(centers: Sequence[float], texts: Sequence[str], left: float, right: float,
                preferred: Optional[Sequence[int]] = None) -> List[Dict[str, Any]]:
    """Labels under the bars at `centers`: the `preferred` indices (default: all), thinned to
    evenly spread ones until no two overlap and none leaves [left, right]."""
    candidates = list(preferred if preferred is not None else range(len(texts)))
    if not candidates:
        return []
    narrowest = min(text_width(texts[i]) for i in candidates) + GAP
    most = min(len(candidates), int((right - left) // narrowest) + 1)  # more can never fit
    for count in range(most, 0, -1):
        if count == 1:
            picks = [candidates[0]]
        else:
            picks = sorted({candidates[round(i * (len(candidates) - 1) / (count - 1))]
                            for i in range(count)})
        placed = []
        for index in picks:
            text, center = texts[index], centers[index]
            anchor = "middle"
            low, high = _label_extent(center, text, anchor)
            if low < left:
                anchor, center = "start", max(left, center - text_width(text) / 2)
            elif high > right:
                anchor, center = "end", min(right, center + text_width(text) / 2)
            placed.append({"x": round(center, 1), "text": text, "anchor": anchor,
                           "extent": _label_extent(center, text, anchor)})
        if all(a["extent"][1] + GAP <= b["extent"][0] for a, b in zip(placed, placed[1:])):
            return [{k: v for k, v in p.items() if k != "extent"} for p in placed]
    return []


def column_chart(ident: str, title: str, desc: str, values: Sequence[int], texts: Sequence[str],
                 preferred: Optional[Sequence[int]] = None, height: int = 190) -> Dict[str, Any]:
    """Vertical bars, one per value, a y axis from 0 to a round number, labels under some."""
    ceiling = nice_ceiling(max(values, default=0))
    ticks = [0, ceiling // 2, ceiling] if ceiling % 2 == 0 else [0, ceiling]
    left = max(24, text_width(f"{ceiling:,}") + 6)
    right, top, bottom = 4, 12, 30
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    step = plot_w / max(1, len(values))
    gap = step * 0.2 if step >= 5 else 0
    base = top + plot_h
    bars = []
    for index, value in enumerate(values):
        h = plot_h * value / ceiling
        bars.append({"x": round(left + index * step + gap / 2, 2), "w": round(step - gap, 2),
                     "y": round(base - h, 2), "h": round(h, 2), "value": value,
                     "text": texts[index]})
    yticks = [{"y": round(base - plot_h * t / ceiling, 2), "text": f"{t:,}"} for t in ticks]
    centers = [left + (i + 0.5) * step for i in range(len(values))]
    return {"kind": "columns", "id": ident, "title": title, "desc": desc, "width": WIDTH,
            "height": height, "left": left, "right": WIDTH - right, "base": base,
            "top": top, "bars": bars, "yticks": yticks,
            "xlabels": axis_labels(centers, texts, left, WIDTH, preferred),
            "xlabel_y": base + FONT + 6, "font": FONT}


def bar_list(ident: str, title: str, desc: str, rows: Sequence[Dict[str, Any]],
             scale: Optional[float] = None) -> Dict[str, Any]:
    """Horizontal bars, one per row {"label", "value", "text"[, "tone"]}: the label (shortened to
    fit) and the text on a line, the bar under them, on a track as long as `scale` (default:
    the largest value)."""
    row_h, bar_h = 40, 12
    scale = scale or max((r["value"] for r in rows), default=0) or 1
    items = []
    for index, row in enumerate(rows):
        y = index * row_h
        value_text = row["text"]
        label = fit(row["label"], WIDTH - text_width(value_text) - GAP)
        items.append({"label": label, "full": row["label"], "text": value_text,
                      "text_y": y + FONT + 2, "bar_y": y + FONT + 9, "bar_h": bar_h,
                      "w": round(WIDTH * min(1.0, row["value"] / scale), 2),
                      "tone": row.get("tone", "")})
    return {"kind": "bars", "id": ident, "title": title, "desc": desc, "width": WIDTH,
            "height": max(row_h, len(rows) * row_h), "rows": items, "font": FONT}


def reason_text(reasons: Dict[str, int]) -> str:
    """{"did_not_answer": 2} -> "did not answer: 2"."""
    return ", ".join(f"{code.replace('_', ' ')}: {n:,}" for code, n in reasons.items())


def percent(share: Optional[float]) -> str:
    return "" if share is None else f"{share * 100:.0f}%"


def home_charts(data: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The home page's charts from home.figures()."""
    from console.home import MEASURES  # (no import cycle at module load)
    days = [date.fromisoformat(d["date"]) for d in data["per_day"]]
    per_day = [d["conversations"] for d in data["per_day"]]
    period = data["period"]
    total = data["totals"]["conversations"]
    busiest = max(range(len(per_day)), key=lambda i: per_day[i]) if per_day else None
    busy = (f"; the most on {days[busiest].isoformat()} ({per_day[busiest]:,})"
            if busiest is not None and per_day[busiest] else "")
    charts = {
        "per_day": column_chart(
            "chart-days", "Conversations per day",
            f"{total:,} conversations from {period['from']} to {period['to']}{busy}.",
            per_day, [short_date(d) for d in days]),
    }
    charts["per_day"]["table"] = table(
        "The numbers per day", ["Day", "Conversations"] + list(MEASURES.values()),
        [[d["date"], d["conversations"]] + [d[name] for name in MEASURES]
         for d in data["per_day"]])
    hours = [h["conversations"] for h in data["per_hour"]]
    peak = max(range(24), key=lambda h: hours[h])
    charts["per_hour"] = column_chart(
        "chart-hours", "Conversations per hour of day",
        f"Conversations by the hour of the day they started ({data['timezone']} time)"
        + (f"; the busiest hour starts at {peak:02d}:00 ({hours[peak]:,})." if hours[peak]
           else "."),
        hours, [f"{h:02d}" for h in range(24)], preferred=list(range(0, 24, 3)))
    charts["per_hour"]["table"] = table(
        "The numbers per hour", [f"Hour ({data['timezone']})", "Conversations"],
        [[f"{h['hour']:02d}:00-{h['hour']:02d}:59", h["conversations"]]
         for h in data["per_hour"]])
    tones = {"answered_alone": "good", "emergency": "alarm", "possible": "warn"}
    outcome_rows = [{"label": label, "value": data["totals"][name],
                     "text": f"{data['totals'][name]:,} ({percent(data['shares'][name]) or '-'})",
                     "tone": tones.get(name, "")} for name, label in MEASURES.items()]
    alone = data["shares"]["answered_alone"]
    charts["outcomes"] = bar_list(
        "chart-outcomes", "How conversations went",
        f"Of {total:,} conversations, {percent(alone) or 'none'} were answered without help "
        "(no fallback, no handoff, no callback); the bars are counts of conversations.",
        outcome_rows, scale=total or 1)
    charts["outcomes"]["table"] = table(
        "The numbers", ["Conversations", "Count", "Share"],
        [["All", total, "100%" if total else "-"]] +
        [[label, data["totals"][name], percent(data["shares"][name]) or "-"]
         for name, label in MEASURES.items()])
    questions = data["top_questions"]
    charts["questions"] = bar_list(
        "chart-questions", "Top questions",
        f"The {len(questions)} intents visitors asked most in the period, by number of "
        f"messages, out of {data['questions']:,} questions.",
        [{"label": q["intent"], "value": q["count"], "text": f"{q['count']:,}"}
         for q in questions])
    charts["questions"]["table"] = table(
        "The numbers", ["Intent", "Messages"], [[q["intent"], q["count"]] for q in questions])
    verdicts = data["verdicts"]
    shown = verdicts["by_answer"][:TOP_ANSWERS]
    charts["verdicts"] = bar_list(
        "chart-verdicts", "Helpful rate of answers",
        f"{verdicts['helpful']:,} of {verdicts['verdicts']:,} verdicts said helpful "
        f"({percent(verdicts['rate']) or 'no verdicts'}); each bar is one answer's helpful rate.",
        [{"label": a["answer"], "value": a["rate"] or 0.0,
          "text": f"{percent(a['rate'])} of {a['verdicts']:,}", "tone": "good"}
         for a in shown], scale=1.0)
    charts["verdicts"]["table"] = table(
        "The numbers", ["Answer", "Helpful", "Not helpful", "Helpful rate",
                        "Reasons for not helpful"],
        [[a["answer"], a["helpful"], a["not_helpful"], percent(a["rate"]),
          reason_text(a["reasons"])] for a in verdicts["by_answer"]])
    return charts


def table(summary: str, head: List[str], rows: List[List[Any]]) -> Dict[str, Any]:
    """The numbers behind a chart, for the <details> under it."""
    return {"summary": summary, "head": head,
            "rows": [[f"{cell:,}" if isinstance(cell, int) else cell for cell in row]
                     for row in rows]}
