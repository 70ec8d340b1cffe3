"""Turns query-string arguments into validated filters; anything malformed is a BadInput (400)."""
import os
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time as clock, timedelta, timezone
from typing import Mapping, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinic.names import BADGES

PAGE_SIZE = 50
MAX_PAGE = 100000
MAX_QUERY = 200
# Labels derived from the events, each a column of console_conversations; staff cannot add or
# remove them, nor give their own labels these names.
AUTO_LABELS = {"emergency": "emergency", "callback": "callback", "handoff": "handoff",
               "fallback": "unanswered", "not helpful": "not_helpful",
               "non-English": "non_english"}
MAX_LABEL = 40
# A label staff add: 1-40 letters, digits, spaces, '-' or '_', starting with a letter or digit
# (after trimming, runs of spaces made one and lower-casing).
LABEL_PATTERN = re.compile(r"[^\W_][\w \-]{0,%d}" % (MAX_LABEL - 1))
HOME_DAYS = 30  # the home page's default period: the last 30 days, today included
MAX_HOME_DAYS = 366


class BadInput(ValueError):
    """A request argument the console cannot use; answered with 400 and the message."""


def clinic_zone():
    """The clinic's time zone (CONSOLE_TIMEZONE), for dates shown and typed by staff."""
    try:
        return ZoneInfo(os.environ.get("CONSOLE_TIMEZONE", "America/Chicago"))
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def local_time(timestamp: Optional[float]) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, clinic_zone()).strftime("%Y-%m-%d %H:%M")


def day_start(day: date) -> float:
    return datetime.combine(day, clock.min, tzinfo=clinic_zone()).timestamp()


def today() -> date:
    return datetime.now(clinic_zone()).date()


def _date(args: Mapping[str, str], name: str) -> Optional[date]:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{name} must be a date like 2024-05-31, not {value[:40]!r}") from None


def _choice(args: Mapping[str, str], name: str, allowed) -> str:
    value = (args.get(name) or "").strip()
    if value not in allowed:
        raise BadInput(f"{name} must be one of {', '.join(repr(a) for a in allowed)}")
    return value


def _page(args: Mapping[str, str]) -> int:
    value = (args.get("page") or "1").strip()
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise BadInput(f"page must be a whole number from 1 to {MAX_PAGE}")
    return int(value)


@dataclass
class Filters:
    start: Optional[date] = None  # first day included
    end: Optional[date] = None  # last day included
    callback: str = ""  # "1": only with the badge, "0": only without, "": either
    handoff: str = ""
    unanswered: str = ""
    emergency: str = ""
    possible: str = ""  # a visitor message triaged `possible`: the safety line was shown
    intent: str = ""
    reviewed: str = ""  # "yes", "no" or ""
    label: str = ""  # an automatic label (AUTO_LABELS) or one staff added
    q: str = ""
    page: int = 1

    @property
    def start_ts(self) -> Optional[float]:
        return day_start(self.start) if self.start else None

    @property
    def end_ts(self) -> Optional[float]:
        return day_start(self.end + timedelta(days=1)) if self.end else None

    def query_args(self, **changes) -> dict:
        """The filters as query-string arguments (for links to other pages and exports)."""
        values = dict(asdict(self), **changes)
        values = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()}
        values["from"], values["to"] = values.pop("start"), values.pop("end")
        return {k: v for k, v in values.items() if v not in ("", None) and (k, v) != ("page", 1)}


def parse_filters(args: Mapping[str, str]) -> Filters:
    filters = Filters(start=_date(args, "from"), end=_date(args, "to"), page=_page(args))
    if filters.start and filters.end and filters.start > filters.end:
        raise BadInput("'from' must not be after 'to'")
    for badge in BADGES:
        setattr(filters, badge, _choice(args, badge, ("", "1", "0")))
    filters.reviewed = _choice(args, "reviewed", ("", "yes", "no"))
    filters.intent = (args.get("intent") or "").strip()
    if filters.intent and not re.fullmatch(r"[A-Za-z0-9_.\-/]{1,100}", filters.intent):
        raise BadInput("intent must be an intent name")
    label = (args.get("label") or "").strip()
    filters.label = parse_label(label, allow_auto=True) if label else ""
    filters.q = " ".join((args.get("q") or "").split())
    if len(filters.q) > MAX_QUERY:
        raise BadInput(f"search text must be at most {MAX_QUERY} characters")
    return filters


def auto_label(text: str) -> Optional[str]:
    """The automatic label `text` names (whatever its case), or None."""
    folded = " ".join(text.split()).lower()
    return next((name for name in AUTO_LABELS if name.lower() == folded), None)


def parse_label(text: str, allow_auto: bool = False) -> str:
    """A label as stored: a staff label trimmed, its spaces made single, lower-cased, and
    checked (LABEL_PATTERN); an automatic label's name as AUTO_LABELS spells it when
    `allow_auto` (filters), else refused (staff cannot add or remove those)."""
    automatic = auto_label(text)
    if automatic:
        if allow_auto:
            return automatic
        raise BadInput(f"{automatic!r} is an automatic label: it comes from the conversation "
                       "itself and cannot be added or removed")
    label = " ".join(text.split()).lower()
    if not LABEL_PATTERN.fullmatch(label):
        raise BadInput(f"a label must be 1-{MAX_LABEL} letters, digits, spaces, '-' or '_', "
                       "starting with a letter or digit")
    return label


@dataclass
class Period:
    """The home page's period: whole days in the clinic's time zone, both ends included."""
    start: date
    end: date

    @property
    def start_ts(self) -> float:
        return day_start(self.start)

    @property
    def end_ts(self) -> float:
        return day_start(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query_args(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def parse_period(args: Mapping[str, str], now: Optional[date] = None) -> Period:
    """from/to (both optional): by default the last HOME_DAYS days up to today; one end given,
    the other HOME_DAYS days from it (the end never after today); at most MAX_HOME_DAYS."""
    now = today() if now is None else now
    start, end = _date(args, "from"), _date(args, "to")
    if end is None:
        end = min(now, start + timedelta(days=HOME_DAYS - 1)) if start else now
    if start is None:
        start = end - timedelta(days=HOME_DAYS - 1)
    if start > end:
        raise BadInput("'from' must not be after 'to'")
    if (end - start).days + 1 > MAX_HOME_DAYS:
        raise BadInput(f"the period must be at most {MAX_HOME_DAYS} days")
    return Period(start, end)
