"""What every action shares: the content, loaded once at start-up, and the pieces of a reply
(phone button, question buttons, source lines, the triage safety line)."""
from typing import Any, Dict, Iterable, List, Optional, Text

from actions.thresholds import THRESHOLDS
from clinic.content import Source, load_or_exit
from clinic.names import CALLBACK_FORM, HANDOFF_INTENTS, body_part_name

CONTENT = load_or_exit()
CLINIC = CONTENT.clinic

# Questions a visitor can be offered as buttons: every curated answer but the emergency one.
QUESTION_INTENTS = CONTENT.question_intents()
# Button labels for the two handoff intents, which have no curated answer of their own.
HANDOFF_TITLES = dict(zip(HANDOFF_INTENTS, ("Book a visit", "Talk to a person")))
# What a message may ask besides the intent answered, offered as a button (second_question).
OFFERABLE_INTENTS = CONTENT.offerable_intents()
TELL_ME_MORE = {"title": "Tell me more", "payload": "/tell_me_more"}
YES_NO = (
    {"title": "Yes, please", "payload": "/affirm"},
    {"title": "No, thanks", "payload": "/deny"},
)


def phone_button() -> Dict[Text, Any]:
    """A button that opens the phone dialler on a phone (web_url with a tel: address)."""
    return CLINIC.phone_button()


def intent_title(intent: Text) -> Optional[Text]:
    if intent in QUESTION_INTENTS:
        return CONTENT.answers[intent].title
    return HANDOFF_TITLES.get(intent)


def intent_buttons(intents: Iterable[Text]) -> List[Dict[Text, Any]]:
    """Quick replies whose payload triggers the intent directly ("/ask_cost")."""
    return [{"title": intent_title(i), "payload": f"/{i}"} for i in intents if intent_title(i)]


def source_line(sources: Iterable[Source]) -> Text:
    """Sources as Markdown links; a printed citation without an address stays plain text."""
    parts = [f"[{s.title}]({s.url})" if s.url else s.title for s in sources]
    label = "Source" if len(parts) == 1 else "Sources"
    return f"{label}: " + "; ".join(parts)


def latest_intent(tracker) -> Text:
    return (tracker.latest_message.get("intent") or {}).get("name") or ""


def second_question(tracker, answered: Text) -> List[Text]:
    """The other question of a two-part message, to be offered first as a button: see
    questions_besides. In the callback form only a question: "Talk to a person" there would
    end the request the visitor is making."""
    in_form = tracker.active_loop_name == CALLBACK_FORM
    return questions_besides(tracker.latest_message, answered,
                             offerable=QUESTION_INTENTS if in_form else OFFERABLE_INTENTS)


def questions_besides(parse: Dict[Text, Any], answered: Text,
                      thresholds: Dict[Text, float] = THRESHOLDS,
                      offerable: Iterable[Text] = OFFERABLE_INTENTS) -> List[Text]:
    """What a message asks besides the intent answered, if anything: the first clause that reads
    as a question and is classified, on its own, as one of `offerable` (a question, or a request
    for a visit or a person) at thresholds.clause_question or more ("my back is killing me, how much is a visit?");
    else the classifier's runner-up when it is one of them and reaches
    thresholds.second_question ("how much, and does it hurt"). A clause asked outright is the
    better witness: a faint runner-up may only echo the words of a story ("for 3 days")."""
    asked = [clause["name"] for clause in parse.get("clauses") or []
             if clause.get("question") and clause.get("name") in offerable
             and clause["name"] != answered
             and (clause.get("confidence") or 0) >= thresholds["clause_question"]][:1]
    if asked:
        return asked
    ranking = [r for r in parse.get("intent_ranking") or []
               if r.get("name") not in (answered, "nlu_fallback")]
    if ranking and ranking[0].get("name") in offerable and \
            (ranking[0].get("confidence") or 0) >= thresholds["second_question"]:
        return [ranking[0]["name"]]
    return []


def latest_entities(tracker, entity: Text) -> List[Text]:
    return [
        e.get("value", "")
        for e in tracker.latest_message.get("entities") or []
        if e.get("entity") == entity
    ]


def named_body_part(tracker) -> Optional[Text]:
    """The name of the first body part the visitor's latest message names ("my lower back" ->
    "lower back", clinic.names.body_part_name), None when it names none."""
    return next((n for n in map(body_part_name, latest_entities(tracker, "body_part")) if n),
                None)


def latest_triage(tracker) -> Dict[Text, Any]:
    """The triage of the visitor's latest message (components/triage.py): level, flags and
    language; an empty level for a message that was not triaged (a button payload)."""
    return tracker.latest_message.get("triage") or {}


def said_this_turn(tracker, kind: Text) -> bool:
    """Whether a reply of this `custom` kind was already sent since the visitor's message (a
    question in the middle of the callback form runs two actions)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and ((event.get("data") or {}).get("custom") or {}
                                            ).get("kind") == kind:
            return True
    return False


def say_safety_line(dispatcher, tracker) -> bool:
    """At triage level `possible`: one short line first ("If you have ... right now, call 911
    ..."), marked for the widget. True when the level is `possible`: the caller then leaves out
    any booking pitch in this turn."""
    triage = latest_triage(tracker)
    if triage.get("level") != "possible":
        return False
    if not said_this_turn(tracker, "safety"):
        flags = triage.get("flags") or []
        flag = "self_harm" if "self_harm" in flags else (flags[0] if flags else "unknown")
        dispatcher.utter_message(text=CONTENT.messages[f"possible_{flag}"],
                                 json_message={"kind": "safety"})
    return True


def without_booking(intents: Iterable[Text]) -> List[Text]:
    return [i for i in intents if i != "book_appointment"]
