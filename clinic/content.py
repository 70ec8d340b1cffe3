"""Loads and validates the curated answers (content/answers.yml) and the clinic's details
(content/clinic.yml), and checks every source against the sourced facts (content/facts.md).

Both YAML files are edited by non-programmers, so every problem is reported as a ContentError
that names the file and the key, and the servers refuse to start rather than answer with bad
content. The citation rules it enforces:
- a source is either one of the clinic's own pages (`clinic_page`, listed in clinic.yml, with an
  optional `url`) or a title with the https address of the exact page cited, never a site's home
  page (a path that is empty or "/");
- every such address appears in content/facts.md, the sourced facts the answers may rest on;
- the sources that back the short `text` are marked `short: true` (at least one per answer),
  and all of them are shown with the short answer; "tell me more" shows every source.
This module imports nothing from Rasa: the action server, the Rasa server (its REST channel and
NLU components), the demo page's server and the scripts all use it.
"""
import functools
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, Optional, Tuple
from urllib.parse import urlsplit

import yaml

from clinic.names import HANDOFF_INTENTS
from triage.rules import FLAGS

CONTENT_DIR = Path(os.environ.get("CLINIC_CONTENT_DIR", Path(__file__).parents[1] / "content"))

# The intents answered from answers.yml are the names under its `answers:` (each needs a source):
# written once, there; the domain and the rules are checked against them (tests/unit/
# test_faq_intents.py). The emergency answer must be there: red flags are answered from it.
REQUIRED_ANSWERS = ("emergency",)

# Fixed bot messages with no medical claims; answers.yml must define exactly these.
MESSAGE_KEYS = (
    "greet",
    "goodbye",
    "thank",
    "bot_challenge",
    "out_of_scope",
    "describe_pain",
    "handoff",
    "book_appointment",
    "offer_callback",
    "ask_callback_name",
    "ask_callback_phone",
    "ask_callback_time",
    "ask_callback_consent",
    "bad_callback_name",
    "bad_callback_phone",
    "bad_callback_time",
    "callback_saved",
    "callback_declined",
    "callback_cancelled",
    "callback_stopped",
    "deny",
    "affirm",
    "clarify",
    "something_else",
    "tell_me_more_none",
    "verdict_thanks",
    "verdict_ask_reason",
    "verdict_reason_not_what_i_asked",
    "verdict_reason_did_not_answer",
    "verdict_reason_thanks",
    "verdict_not_recorded",
    "unavailable",
    "empty",
    "too_long",
    "not_saved",
    "rate_limited",
    "callback_limit",
    "emergency_self_harm",
    "emergency_es",
    "emergency_self_harm_es",
    "emergency_button_911_es",
    "emergency_button_988_es",
    "other_language_es",
    "other_language",
    "possible_unknown",
) + tuple(f"possible_{flag}" for flag in FLAGS)  # the safety line for each red flag

# Messages that may also have a `body_part` line: said in place of the text's first sentence
# (up to its first ".", "?" or "!") when the visitor names a body part, with {body_part} where
# its name goes: "I'm sorry to hear about the neck pain." (actions/chat.py).
BODY_PART_MESSAGES = ("describe_pain",)
# The text's first sentence: up to the first ".", "?" or "!" that ends a word.
FIRST_SENTENCE = re.compile(r".*?[.!?](?=\s|$)", re.DOTALL)

ANSWER_KEYS = {"title", "text", "more", "body_part", "sources", "suggestions"}
CLINIC_KEYS = {
    "name",
    "area",
    "phone",
    "free_initial_consultation",
    "address",
    "hours",
    "services",
    "pages",
}
# What answers.yml may write in curly braces, filled from clinic.yml (see its header comments):
#   {clinic_name}, {phone}, {area}: clinic.name, clinic.phone, clinic.area
#   {services}: clinic.services as a sentence list ("a, b and c")
#   {consultation}: "The initial consultation is free." when free_initial_consultation is
#       true, else nothing (the sentence is left out)
#   {initial_consultation}: "free initial consultation" or "initial consultation"
PLACEHOLDERS = {"clinic_name", "phone", "area", "services", "consultation", "initial_consultation"}
FREE_CONSULTATION_SENTENCE = "The initial consultation is free."


class ContentError(ValueError):
    """A content file is missing, malformed or incomplete."""


def us_phone(text: str) -> Optional[str]:
    """The number as (NXX) NXX-XXXX if `text` holds one valid North American number, else None.

    The one phone rule of the project: the clinic's number in clinic.yml and the visitor's
    number in the callback request are both checked with it."""
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if not re.fullmatch(r"[2-9]\d{2}[2-9]\d{6}", digits) or digits[1:3] == "11":
        return None
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


@dataclass(frozen=True)
class Source:
    title: str
    url: Optional[str]  # None only for a clinic page whose address clinic.yml does not give yet
    short: bool = False  # backs the short text, so it is shown with it


@dataclass(frozen=True)
class Answer:
    title: str
    text: str
    more: Optional[str]
    body_part: Optional[str]
    sources: Tuple[Source, ...]
    suggestions: Tuple[str, ...]

    @property
    def short_sources(self) -> Tuple[Source, ...]:
        """The sources shown with the short text (and its body_part sentence)."""
        return tuple(s for s in self.sources if s.short)


@dataclass(frozen=True)
class ClinicPage:
    title: str
    url: Optional[str]  # optional until the clinic gives it


@dataclass(frozen=True)
class Clinic:
    name: str
    area: str
    phone: str
    free_initial_consultation: bool
    address: Optional[str]
    hours: Optional[str]
    services: Tuple[str, ...]
    pages: Dict[str, ClinicPage]

    @property
    def tel_uri(self) -> str:
        return "tel:+1" + re.sub(r"\D", "", self.phone)  # (NXX) NXX-XXXX: load_clinic

    def phone_button(self) -> Dict[str, Any]:
        """A button that opens the phone dialler on a phone (web_url with a tel: address).
        The action server and the Rasa server's REST channel both send it."""
        return {"title": f"Call {self.phone}", "type": "web_url", "url": self.tel_uri}


@dataclass(frozen=True)
class Content:
    clinic: Clinic
    answers: Dict[str, Answer]
    messages: Dict[str, str]
    # BODY_PART_MESSAGES that have a body_part line: the whole message with that line in place
    # of its first sentence, {body_part} still to fill (message() fills it).
    body_part_messages: Dict[str, str] = field(default_factory=dict)

    def message(self, name: str, body_part: Optional[str] = None) -> str:
        """The message `name`; when the visitor named a body part (its name, e.g. "neck") and
        the message has a body_part line, the message with that line."""
        if body_part and name in self.body_part_messages:
            return self.body_part_messages[name].replace("{body_part}", body_part)
        return self.messages[name]

    def question_intents(self) -> Tuple[str, ...]:
        """The questions a visitor can ask: every curated answer but the emergency one."""
        return tuple(i for i in self.answers if i != "emergency")

    def offerable_intents(self) -> Tuple[str, ...]:
        """What a message can ask that the assistant answers or offers as a button: a question,
        a visit or a person."""
        return self.question_intents() + HANDOFF_INTENTS


def _read_yaml(path: Path) -> Dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ContentError(f"{path}: file not found") from error
    except yaml.YAMLError as error:
        raise ContentError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ContentError(f"{path}: expected a mapping at the top level")
    if data.get("version") != 1:
        raise ContentError(f"{path}: version: expected 1, got {data.get('version')!r}")
    return data


def _exact_url(path: Path, key: str, url: str) -> str:
    """An https address of one exact page: a site's home page cites nothing in particular."""
    if not re.fullmatch(r"https://[^\s/]+\.[^\s]+", url):
        raise ContentError(f"{path}: {key}: expected an https:// address, got {url!r}")
    if urlsplit(url).path in ("", "/"):
        raise ContentError(
            f"{path}: {key}: {url!r} is a site's home page; give the address of the exact page "
            "that says it"
        )
    return url


FACTS_URL = re.compile(r"https://[^\s<>()\[\]`\"']+")


def read_fact_urls(path: Path) -> FrozenSet[str]:
    """Every https address written in content/facts.md (a trailing full stop or comma is
    punctuation, not part of the address)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ContentError(f"{path}: file not found (the sourced facts the answers rest on)") from error
    return frozenset(url.rstrip(".,;:") for url in FACTS_URL.findall(text))


def _mapping(path: Path, key: str, value: Any) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise ContentError(f"{path}: {key}: expected a mapping")
    return value


def _check_keys(path: Path, key: str, value: Dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ContentError(
            f"{path}: {key}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )


def _text(path: Path, key: str, value: Any, optional: bool = False) -> Optional[str]:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ContentError(f"{path}: {key}: expected non-empty text")
    return " ".join(value.split())


def spoken_list(items: Iterable[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def placeholder_values(clinic: Clinic) -> Dict[str, str]:
    """What each placeholder in answers.yml becomes for this clinic."""
    free = clinic.free_initial_consultation
    return {
        "clinic_name": clinic.name,
        "phone": clinic.phone,
        "area": clinic.area,
        "services": spoken_list(clinic.services) if clinic.services else "",
        "consultation": FREE_CONSULTATION_SENTENCE if free else "",
        "initial_consultation": "free initial consultation" if free else "initial consultation",
    }


def _fill(path: Path, key: str, text: Optional[str], clinic: Clinic, extra=frozenset()) -> Optional[str]:
    """Fills the placeholders (PLACEHOLDERS) from clinic.yml; any other placeholder (except
    `extra`, left for the action to fill) is an error."""
    if text is None:
        return None
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise ContentError(f"{path}: {key}: broken placeholder: {error}") from error
    unknown = sorted(fields - PLACEHOLDERS - set(extra))
    if unknown:
        raise ContentError(f"{path}: {key}: unknown placeholder {{{unknown[0]}}}")
    if "services" in fields and not clinic.services:
        raise ContentError(
            f"{path}: {key}: uses {{services}}, but clinic.services in clinic.yml is empty"
        )
    for name, value in placeholder_values(clinic).items():
        text = text.replace("{" + name + "}", value)
    text = " ".join(text.split())  # a left-out {consultation} leaves no double space
    if not text:
        raise ContentError(f"{path}: {key}: empty once the placeholders are filled")
    return text


def load_clinic(path: Path) -> Clinic:
    data = _read_yaml(path)
    _check_keys(path, "(top level)", data, {"version", "clinic"})
    raw = _mapping(path, "clinic", data.get("clinic"))
    _check_keys(path, "clinic", raw, CLINIC_KEYS)
    written = _text(path, "clinic.phone", raw.get("phone"))
    # One form everywhere, (314) 731-4201, whichever way the editor wrote it: the widget makes
    # a number in that form a tap-to-call link.
    phone = us_phone(written)
    if phone is None:
        raise ContentError(f"{path}: clinic.phone: expected a US phone number, got {written!r}")
    free = raw.get("free_initial_consultation", False)
    if not isinstance(free, bool):
        raise ContentError(f"{path}: clinic.free_initial_consultation: expected true or false")
    services = raw.get("services") or []
    if not isinstance(services, list):
        raise ContentError(f"{path}: clinic.services: expected a list")
    pages = {}
    for index, page in enumerate(raw.get("pages") or []):
        key = f"clinic.pages[{index}]"
        page = _mapping(path, key, page)
        _check_keys(path, key, page, {"id", "title", "url"})
        title = _text(path, f"{key}.title", page.get("title"))
        url = _text(path, f"{key}.url", page.get("url"), optional=True)
        if url is not None:
            _exact_url(path, f"{key}.url", url)
        pages[_text(path, f"{key}.id", page.get("id"))] = ClinicPage(title=title, url=url)
    return Clinic(
        name=_text(path, "clinic.name", raw.get("name")),
        area=_text(path, "clinic.area", raw.get("area")),
        phone=phone,
        free_initial_consultation=free,
        address=_text(path, "clinic.address", raw.get("address"), optional=True),
        hours=_text(path, "clinic.hours", raw.get("hours"), optional=True),
        services=tuple(
            _text(path, f"clinic.services[{i}]", s) for i, s in enumerate(services)
        ),
        pages=pages,
    )


def _short(path: Path, key: str, raw: Dict[str, Any]) -> bool:
    short = raw.get("short", False)
    if not isinstance(short, bool):
        raise ContentError(f"{path}: {key}.short: expected true or false")
    return short


def _source(path: Path, key: str, raw: Any, clinic: Clinic, facts: FrozenSet[str],
            facts_path: Path) -> Source:
    raw = _mapping(path, key, raw)
    if "clinic_page" in raw:
        _check_keys(path, key, raw, {"clinic_page", "short"})
        page = raw["clinic_page"]
        if page not in clinic.pages:
            raise ContentError(
                f"{path}: {key}.clinic_page: {page!r} is not one of the pages in clinic.yml"
            )
        return Source(title=f"{clinic.name}: {clinic.pages[page].title}",
                      url=clinic.pages[page].url, short=_short(path, key, raw))
    _check_keys(path, key, raw, {"title", "url", "short"})
    title = _text(path, f"{key}.title", raw.get("title"))
    if raw.get("url") is None:
        raise ContentError(
            f"{path}: {key}.url: missing; every source but a clinic page needs the https "
            "address of the exact page"
        )
    url = _exact_url(path, f"{key}.url", _text(path, f"{key}.url", raw.get("url")))
    if url not in facts:
        raise ContentError(
            f"{path}: {key}.url: {url} is not in {facts_path}; an answer may rest only on the "
            "sourced facts there or on the clinic's own pages"
        )
    return Source(title=title, url=url, short=_short(path, key, raw))


def _answer(path: Path, intent: str, raw: Any, clinic: Clinic, facts: FrozenSet[str],
            facts_path: Path, answered: Iterable[str]) -> Answer:
    key = f"answers.{intent}"
    if not isinstance(intent, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", intent):
        raise ContentError(f"{path}: {key}: an answer's name is its intent, in lower case with "
                           "underscores (ask_cost)")
    raw = _mapping(path, key, raw)
    _check_keys(path, key, raw, ANSWER_KEYS)
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources:
        raise ContentError(f"{path}: {key}.sources: every answer needs at least one source")
    suggestions = raw.get("suggestions") or []
    if not isinstance(suggestions, list):
        raise ContentError(f"{path}: {key}.suggestions: expected a list of intents")
    for index, suggestion in enumerate(suggestions):
        if suggestion not in answered or suggestion == "emergency":
            raise ContentError(
                f"{path}: {key}.suggestions[{index}]: {suggestion!r} is not an answered question"
            )
    parsed = tuple(
        _source(path, f"{key}.sources[{i}]", s, clinic, facts, facts_path)
        for i, s in enumerate(sources)
    )
    if not any(source.short for source in parsed):
        raise ContentError(
            f"{path}: {key}.sources: mark the sources that back the short text with "
            "\"short: true\" (at least one); they are shown with it"
        )
    return Answer(
        title=_text(path, f"{key}.title", raw.get("title")),
        text=_fill(path, f"{key}.text", _text(path, f"{key}.text", raw.get("text")), clinic),
        more=_fill(path, f"{key}.more", _text(path, f"{key}.more", raw.get("more"), True), clinic),
        body_part=_fill(
            path,
            f"{key}.body_part",
            _text(path, f"{key}.body_part", raw.get("body_part"), optional=True),
            clinic,
            extra={"body_part"},
        ),
        sources=parsed,
        suggestions=tuple(suggestions),
    )


def _body_part_message(path: Path, name: str, line: Any, text: str, clinic: Clinic) -> str:
    """The message with its body_part line in place of the first sentence of its text (both
    already checked), {body_part} left to fill."""
    key = f"messages.{name}.body_part"
    line = _fill(path, key, _text(path, key, line), clinic, extra={"body_part"})
    if "{body_part}" not in line:
        raise ContentError(f"{path}: {key}: write {{body_part}} where the body part's name goes")
    first = FIRST_SENTENCE.match(text)
    rest = text[first.end():].strip() if first else ""
    if rest:
        line += " " + _fill(path, f"messages.{name}.text", rest, clinic)
    return line


def _messages(path: Path, raw: Any, clinic: Clinic) -> Tuple[Dict[str, str], Dict[str, str]]:
    """The messages, and the BODY_PART_MESSAGES' forms with their body_part line."""
    raw = _mapping(path, "messages", raw)
    _check_keys(path, "messages", raw, MESSAGE_KEYS)
    messages, body_part_messages = {}, {}
    for name in MESSAGE_KEYS:
        if name not in raw:
            raise ContentError(f"{path}: messages.{name}: missing")
        entry = _mapping(path, f"messages.{name}", raw[name])
        allowed = {"text", "body_part"} if name in BODY_PART_MESSAGES else {"text"}
        _check_keys(path, f"messages.{name}", entry, allowed)
        text = _text(path, f"messages.{name}.text", entry.get("text"))
        messages[name] = _fill(path, f"messages.{name}.text", text, clinic)
        if entry.get("body_part") is not None:
            body_part_messages[name] = _body_part_message(path, name, entry["body_part"], text,
                                                          clinic)
    return messages, body_part_messages


def load_content(directory: Path = CONTENT_DIR) -> Content:
    """Reads and validates clinic.yml and answers.yml from `directory`, with every source
    checked against facts.md there."""
    clinic = load_clinic(directory / "clinic.yml")
    facts_path = directory / "facts.md"
    facts = read_fact_urls(facts_path)
    path = directory / "answers.yml"
    data = _read_yaml(path)
    _check_keys(path, "(top level)", data, {"version", "answers", "messages"})
    raw_answers = _mapping(path, "answers", data.get("answers"))
    for intent in REQUIRED_ANSWERS:
        if intent not in raw_answers:
            raise ContentError(f"{path}: answers.{intent}: missing (it must always be there)")
    answers = {
        intent: _answer(path, intent, raw, clinic, facts, facts_path, set(raw_answers))
        for intent, raw in raw_answers.items()
    }
    messages, body_part_messages = _messages(path, data.get("messages"), clinic)
    return Content(clinic=clinic, answers=answers, messages=messages,
                   body_part_messages=body_part_messages)


@functools.lru_cache(maxsize=None)
def load_or_exit(directory: Path = CONTENT_DIR) -> Content:
    """Loads the content once per process at start-up (the REST channel, the classifier and the
    actions share it); a broken file stops the server with a clear message."""
    try:
        return load_content(directory)
    except ContentError as error:
        raise SystemExit(f"Content error, the server cannot start: {error}") from None
