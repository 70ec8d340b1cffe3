"""Conversations over the REST channel with the real Rasa server, action server and SQLite
tracker store. The phrasing here is our own and appears nowhere in data/."""
import json
import re
import sqlite3

import pytest
import requests

from actions.fallback import close_guesses
from actions.thresholds import THRESHOLDS
from clinic.content import load_content
from tests.clinic_facts import CLINIC, DEFAULT_CLINIC
from tests.e2e.conftest import chat, new_sender, post, slot_values, texts

# The clinic's phone from clinic.yml in the content folder in use (tests/clinic_facts.py); the
# servers read the same folder (CLINIC_CONTENT_DIR reaches them through scripts.serve.server_env).
PHONE = CLINIC.phone
TEL = CLINIC.tel
CONTENT = load_content()


def buttons(messages):
    return [b for m in messages for b in m.get("buttons", [])]


def test_greeting_says_automated_and_not_medical_advice(servers):
    reply = texts(chat(servers, new_sender(), "hello!"))
    assert "automated" in reply
    assert "medical advice" in reply


@pytest.mark.parametrize(
    "message, must_contain",
    [
        ("ok bye now", PHONE),
        ("thanks a bunch, that was useful", PHONE),
        ("wait am i chatting with a computer program", PHONE),
        ("what does a cryotherapy session cost me", PHONE),
        ("what is your street address and when are you open", PHONE),
        ("please let me speak with a staff member", PHONE),
        ("i would like to set up a visit with you", PHONE),
        ("can you recommend a good pizza place", PHONE),
        ("so what exactly is cryotherapy", "ice pack"),
        ("is your clinic using one of those freezing chambers or ice packs", "chamber"),
        ("has the FDA approved cryo chambers", "FDA"),
    ],
)
def test_answers_follow_the_contract(servers, message, must_contain):
    reply = chat(servers, new_sender(), message)
    assert must_contain.lower() in texts(reply).lower()


def test_a_named_body_part_is_mentioned(servers):
    reply = texts(chat(servers, new_sender(), "does cryotherapy hurt on my neck?"))
    assert "same on the neck" in reply


def test_faq_action_run_for_a_non_question_says_what_it_can_do(servers):
    """ActionAnswerFaq's branch for an intent it has no answer for is reachable: the HTTP API
    (with the token) can run any action, here after a greeting."""
    sender = new_sender()
    chat(servers, sender, "hello!")
    reply = requests.post(
        f"{servers.rasa_url}/conversations/{sender}/execute",
        params={"token": servers.api_token, "output_channel": "latest"},
        json={"name": "action_answer_faq"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    messages = reply.json()["messages"]
    assert "can't help with that" in texts(messages) and PHONE in texts(messages)
    assert {"title": f"Call {PHONE}", "type": "web_url", "url": TEL} in buttons(messages)


def test_handoff_gives_a_tel_button_at_once(servers):
    reply = chat(servers, new_sender(), "i need to talk to a human being")
    assert PHONE in reply[0]["text"]
    assert {"title": f"Call {PHONE}", "type": "web_url", "url": TEL} in reply[0]["buttons"]


@pytest.mark.parametrize(
    "message",
    [
        "since this morning I have no control over my bladder",
        "my back hurts and i pooped myself without noticing",
        "the area between my legs feels numb, like sitting on a saddle",
        "both of my legs are getting weaker every day",
        "I fell off a ladder yesterday and now my back is in agony",
        "lower back pain and a fever of 102 since last night",
        "I had breast cancer a few years ago and now have new back pain",
        "back pain and I'm losing weight without trying",
        "my chest hurts and my back aches, is cryo ok",
        "I get short of breath when the back pain starts",
        "my neck is stiff, I have a fever and the worst headache ever",
    ],
)
def test_every_red_flag_gets_emergency_guidance(servers, message):
    reply = chat(servers, new_sender(), message)
    guidance = reply[0]["text"]
    assert "911" in guidance and "emergency room" in guidance
    assert reply[0]["custom"] == {"kind": "emergency"}
    assert PHONE not in texts(reply)
    for pitch in ("book", "appointment", "consultation", "callback"):
        assert pitch not in guidance.lower()
    assert {b["url"] for b in buttons(reply) if "url" in b} == {"tel:911", "tel:988"}
    # The one other button expands the emergency guidance (which symptoms need care now).
    assert [b for b in buttons(reply) if "url" not in b] == [
        {"title": "Tell me more", "payload": "/tell_me_more"}]


def test_red_flag_inside_another_question_wins(servers):
    reply = texts(chat(servers, new_sender(), "how much is a visit? also I wet myself twice today"))
    assert "911" in reply


def test_tell_me_more_after_an_emergency_gives_the_red_flags_not_the_earlier_answer(servers):
    sender = new_sender()
    assert "front desk" in texts(chat(servers, sender, "how much does a session cost")).lower()
    assert "911" in texts(chat(servers, sender, "I suddenly lost control of my bladder"))
    reply = chat(servers, sender, "/tell_me_more")
    said = texts(reply)
    assert "stiff neck" in said and "988" in said and "bladder or bowel" in said
    assert "insurance" not in said.lower() and PHONE not in said
    assert {b.get("url") for b in buttons(reply)} == {"tel:911", "tel:988"}


@pytest.mark.parametrize("message", [
    "i want to kill myself", "honestly I have been thinking about ending my life",
])
def test_self_harm_gets_988_first(servers, message):
    reply = chat(servers, new_sender(), message)
    assert reply[0]["text"] == CONTENT.messages["emergency_self_harm"]
    assert reply[0]["custom"] == {"kind": "emergency"}
    assert [b["url"] for b in reply[0]["buttons"]] == ["tel:988", "tel:911"]
    assert PHONE not in texts(reply)


def book_and_accept(servers, sender):
    chat(servers, sender, "i want to book an appointment")
    return chat(servers, sender, "yes please")


def test_callback_request_end_to_end(servers):
    sender = new_sender()
    assert "name" in texts(book_and_accept(servers, sender)).lower()
    replies = [chat(servers, sender, "Dana Whitfield")]
    replies.append(chat(servers, sender, "555"))
    assert "doesn't look like a us phone number" in texts(replies[-1]).lower()
    replies.append(chat(servers, sender, "636 555 0188"))
    replies.append(chat(servers, sender, "tuesday after lunch"))
    replies.append(chat(servers, sender, "yes"))
    final = texts(replies[-1]).lower()
    assert "front desk" in final and "call" in final
    said = " ".join(texts(r) for r in replies)
    assert "Dana" not in said and "Whitfield" not in said
    assert "0188" not in said and "636" not in said
    # The bad number was recorded as rejected (None), then the good one, normalised.
    assert slot_values(servers, sender, "callback_phone")[:2] == [None, "(636) 555-0188"]
    assert slot_values(servers, sender, "callback_name")[0] == "Dana Whitfield"
    assert slot_values(servers, sender, "callback_time")[0] == "tuesday after lunch"
    assert slot_values(servers, sender, "callback_status") == ["submitted"]


def test_question_in_the_middle_of_the_form_is_answered_then_the_form_goes_on(servers):
    sender = new_sender()
    book_and_accept(servers, sender)
    reply = texts(chat(servers, sender, "wait, does the ice treatment hurt?"))
    assert "cold" in reply.lower()
    assert "name" in reply.lower()


def test_emergency_in_the_middle_of_the_form_ends_it(servers):
    sender = new_sender()
    book_and_accept(servers, sender)
    reply = texts(chat(servers, sender, "oh no i suddenly can't feel my legs"))
    assert "911" in reply
    assert "name" not in reply.lower()
    after = texts(chat(servers, sender, "hi"))
    assert "automated" in after
    assert slot_values(servers, sender, "callback_status") == []


def test_visitor_can_stop_the_form(servers):
    sender = new_sender()
    book_and_accept(servers, sender)
    chat(servers, sender, "Sam")
    reply = texts(chat(servers, sender, "never mind, stop"))
    assert PHONE in reply
    assert slot_values(servers, sender, "callback_status") == ["cancelled"]


def test_asking_for_a_person_in_the_middle_of_the_form_gives_the_phone_and_ends_it(servers):
    sender = new_sender()
    book_and_accept(servers, sender)
    chat(servers, sender, "Dana Whitfield")
    reply = chat(servers, sender, "i want to talk to a person")
    assert PHONE in reply[0]["text"]
    assert {"title": f"Call {PHONE}", "type": "web_url", "url": TEL} in reply[0]["buttons"]
    said = texts(reply)
    assert "not sent" in said and "Would you like" not in said and "phone number" not in said
    assert slot_values(servers, sender, "callback_name")[0] == "Dana Whitfield"  # not the request
    assert slot_values(servers, sender, "callback_status") == ["cancelled"]
    # The form is over: the next message is an ordinary question again.
    assert "cold" in texts(chat(servers, sender, "does the ice hurt?")).lower()


def test_goodbye_in_the_middle_of_the_form_cancels_it(servers):
    sender = new_sender()
    book_and_accept(servers, sender)
    reply = texts(chat(servers, sender, "bye"))
    assert "not sent" in reply and PHONE in reply
    assert slot_values(servers, sender, "callback_name") in ([], [None])
    assert slot_values(servers, sender, "callback_status") == ["cancelled"]


def test_asking_to_book_in_the_middle_of_the_form_gives_the_phone_and_goes_on(servers):
    sender = new_sender()
    book_and_accept(servers, sender)
    reply = texts(chat(servers, sender, "book appointment"))
    assert PHONE in reply and "what name" in reply.lower()
    assert slot_values(servers, sender, "callback_name") == []
    chat(servers, sender, "Dana Whitfield")
    assert slot_values(servers, sender, "callback_name") == ["Dana Whitfield"]


def test_tell_me_more_in_the_middle_of_the_form_then_it_goes_on(servers):
    sender = new_sender()
    chat(servers, sender, "how much does it cost")
    book_and_accept(servers, sender)
    reply = texts(chat(servers, sender, "tell me more"))
    assert "insurance" in reply and "what name" in reply.lower()
    assert slot_values(servers, sender, "callback_name") == []


# Short, vague messages that the current model reads as nlu_fallback with two close guesses
# (checked with scripts.nlu_eval.parse_all). The test uses the first that still does, and fails
# if none does, so a retrained model cannot turn it into a test of nothing.
AMBIGUOUS = ["and the ice?", "what about cold", "what about ice", "the ice thing"]


def parse(servers, text):
    reply = requests.post(f"{servers.rasa_url}/model/parse", params={"token": servers.api_token},
                          json={"text": text}, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()


def ambiguous_message(servers):
    for text in AMBIGUOUS:
        parsed = parse(servers, text)
        guesses = close_guesses(parsed["intent_ranking"])
        if parsed["intent"]["name"] == "nlu_fallback" and guesses and all(
            g in CONTENT.answers for g in guesses
        ):
            return text, guesses
    pytest.fail(f"none of {AMBIGUOUS} gives nlu_fallback with two close guesses any more: "
                "pick new messages with scripts.nlu_eval.parse_all")


def test_ambiguous_question_offers_both_guesses_and_something_else(servers):
    text, guesses = ambiguous_message(servers)
    assert len(guesses) == 2
    reply = chat(servers, new_sender(), text)
    assert len(reply) == 1 and reply[0]["text"] == CONTENT.messages["clarify"]
    assert reply[0]["buttons"] == [
        {"title": CONTENT.answers[guesses[0]].title, "payload": f"/{guesses[0]}"},
        {"title": CONTENT.answers[guesses[1]].title, "payload": f"/{guesses[1]}"},
        {"title": CONTENT.messages["something_else"], "payload": "/out_of_scope"},
    ]


@pytest.mark.parametrize("choice", [0, 1])
def test_each_offered_guess_answers_that_question(servers, choice):
    text, guesses = ambiguous_message(servers)
    sender = new_sender()
    offered = [b["payload"] for b in buttons(chat(servers, sender, text))]
    answer = chat(servers, sender, offered[choice])
    assert answer[0]["text"].startswith(CONTENT.answers[guesses[choice]].text)
    assert slot_values(servers, sender, "last_answer") == [guesses[choice]]


def test_something_else_gives_the_phone_number(servers):
    text, _ = ambiguous_message(servers)
    sender = new_sender()
    offered = [b["payload"] for b in buttons(chat(servers, sender, text))]
    answer = chat(servers, sender, offered[-1])
    assert answer[0]["text"] == CONTENT.messages["out_of_scope"] and PHONE in answer[0]["text"]


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   \n\t ",
        "x" * 10_000,
        "🥶🥶🥶 ???",
        "¿La crioterapia duele mucho?",
        "<script>alert('hi')</script>",
        '<img src=x onerror="alert(1)">',
        "back\x00pain\x07\x1b[31m",
        "/ask_cost{\"x\": 1}",
    ],
)
def test_bad_input_gets_a_polite_answer(servers, message):
    reply = chat(servers, new_sender(), message)
    assert reply and all(m.get("text") for m in reply)
    assert "<script>" not in texts(reply)


@pytest.mark.parametrize(
    "payload, status",
    [
        ({"message": "hi"}, 400),
        ({"sender": "abc", "message": "hi"}, 400),
        ({"sender": "../../etc/passwd-0000000000", "message": "hi"}, 400),
        ({"sender": "a" * 32, "message": ["hi"]}, 400),
        ({"sender": "a" * 32, "message": "hi", "message_id": "short"}, 400),
        ({"sender": "a" * 32, "message": "hi", "message_id": 12345678901234567890}, 400),
        ([1, 2, 3], 400),
    ],
)
def test_malformed_requests_get_a_4xx(servers, payload, status):
    assert post(servers, payload).status_code == status


def stored_user_texts(servers, sender):
    with sqlite3.connect(servers.tracker_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' "
                          "ORDER BY id", (sender,)).fetchall()
    return [json.loads(data)["text"] for (data,) in rows]


def test_a_retried_message_is_answered_once(servers):
    """The widget sends a message again, with the same id and "retry", when no answer came back;
    a server that had answered it sends the same replies and makes no second turn."""
    sender, message_id = new_sender(), new_sender()
    sent = {"sender": sender, "message": "does it hurt", "message_id": message_id}
    first = post(servers, sent).json()
    assert first[0]["text"].startswith(CONTENT.answers["ask_does_it_hurt"].text)
    assert post(servers, dict(sent, retry=True)).json() == first
    assert stored_user_texts(servers, sender) == ["does it hurt"]
    # A retry of a message the server never got is a new turn.
    never_got = {"sender": sender, "message": "how much is it", "message_id": new_sender(),
                 "retry": True}
    assert post(servers, never_got).json()[0]["text"].startswith(
        CONTENT.answers["ask_cost"].text)
    assert stored_user_texts(servers, sender) == ["does it hurt", "how much is it"]


def test_not_json_and_huge_bodies_are_refused(servers):
    import requests

    json_type = {"Content-Type": "application/json"}
    not_json = requests.post(servers.webhook, data=b"{not json", headers=json_type, timeout=30)
    assert not_json.status_code == 400
    huge = requests.post(servers.webhook, data=b"x" * (1024 * 1024), timeout=30)
    assert huge.status_code == 413
    assert chat(servers, new_sender(), "hi")  # and the server keeps serving


PAIN_OPENING = "I'm sorry you're hurting. "  # the first sentence of the describe_pain text
TIME_WORDS = re.compile(r"\b(hours?|days?|weeks?|months?|years?|ages|since|yesterday|chronic)\b",
                        re.I)


def pain_reply(body_part):
    """The describe_pain reply naming `body_part` (its body_part line in place of the text's
    first sentence), written out here rather than taken from the loader alone."""
    text = CONTENT.messages["describe_pain"]
    assert text.startswith(PAIN_OPENING)
    expected = f"I'm sorry to hear about the {body_part} pain. " + text[len(PAIN_OPENING):]
    assert CONTENT.message("describe_pain", body_part) == expected
    return expected


# (message, the body part's name in the reply, the body_part entity, the pain_duration entity)
PAIN_STATEMENTS = [
    ("my lower back has been aching for about a month now", "lower back", "lower back",
     "about a month"),
    ("pulled something in my neck at the gym yesterday, so stiff", "neck", "neck", None),
    ("my neck has been killing me for 3 weeks", "neck", "neck", "3 weeks"),
    ("ugh my back has been sore since last tuesday", "back", "my back", "since last tuesday"),
]


@pytest.mark.parametrize("message, name, body_part, duration", PAIN_STATEMENTS)
def test_a_description_of_everyday_pain_names_the_body_part_never_the_duration(
        servers, message, name, body_part, duration):
    sender = new_sender()
    messages = chat(servers, sender, message)
    assert [m.get("text") for m in messages] == [pain_reply(name)]
    said = texts(messages)
    assert "911" not in said and not TIME_WORDS.search(said)  # nothing about how long
    assert duration is None or duration not in said
    assert [b["payload"] for b in buttons(messages)] == [
        "/ask_benefits", "/ask_session_details", "/book_appointment"]
    # For the front desk (the console's callback queue): the slots, as the visitor said them.
    assert slot_values(servers, sender, "pain_body_part") == [body_part]
    assert slot_values(servers, sender, "pain_duration") == ([duration] if duration else [])


def test_a_question_asked_with_a_description_of_pain_is_offered_first(servers):
    """The classifier reads the whole message as a description of pain (ask_cost in its ranking
    too faint to offer); the clause "how much is a visit?", classified on its own, is a question
    about cost, offered first (before any runner-up)."""
    message = "my lower back has been killing me for 3 days, how much is a visit?"
    parsed = parse(servers, message)
    assert parsed["intent"]["name"] == "describe_pain"
    ranked = {r["name"]: r["confidence"] for r in parsed["intent_ranking"]}
    assert ranked["ask_cost"] < THRESHOLDS["second_question"]
    assert [c["name"] for c in parsed["clauses"]] == ["describe_pain", "ask_cost"]
    messages = chat(servers, new_sender(), message)
    assert [m.get("text") for m in messages] == [pain_reply("lower back")]
    assert [b["payload"] for b in buttons(messages)] == [
        "/ask_cost", "/ask_benefits", "/ask_session_details", "/book_appointment"]


@pytest.mark.parametrize("message, first, second", [
    ("what does it help with? is it safe with diabetes", "ask_benefits", "ask_safety"),
    ("is there any research on it? is it painful", "ask_evidence", "ask_does_it_hurt"),
    ("do you take medicare? how long does a session last", "ask_cost", "ask_session_details"),
])
def test_of_two_questions_the_first_asked_is_answered_and_the_other_offered_first(
        servers, message, first, second):
    parsed = parse(servers, message)
    assert [c["name"] for c in parsed["clauses"]] == [first, second]
    messages = chat(servers, new_sender(), message)
    assert messages[0]["text"].startswith(CONTENT.answers[first].text)
    # "Tell me more" about the answer given (when it has more), then the other question
    offered = [b for b in buttons(messages) if b["payload"] != "/tell_me_more"]
    assert offered[0] == {"title": CONTENT.answers[second].title, "payload": f"/{second}"}


@pytest.mark.parametrize("message", [
    "ugh it's been so sore and stiff for 2 weeks now",
    "my hip has been aching for 2 weeks now",  # a body part the patterns do not know
])
def test_a_description_of_pain_without_a_known_body_part_gets_the_plain_reply(servers, message):
    sender = new_sender()
    messages = chat(servers, sender, message)
    assert [m.get("text") for m in messages] == [CONTENT.messages["describe_pain"]]
    assert CONTENT.messages["describe_pain"].startswith(PAIN_OPENING)
    assert not TIME_WORDS.search(texts(messages))
    assert slot_values(servers, sender, "pain_body_part") == []
    assert slot_values(servers, sender, "pain_duration") == ["2 weeks"]


def test_a_question_naming_a_body_part_and_a_time_fills_no_pain_slot(servers):
    """In a question the body part is its topic, not necessarily the visitor's own pain."""
    sender = new_sender()
    reply = texts(chat(servers, sender, "can cryotherapy help my neck, it has been stiff for 3 weeks"))
    assert CONTENT.answers["ask_benefits"].body_part.replace("{body_part}", "neck") in reply
    assert slot_values(servers, sender, "pain_body_part") == []
    assert slot_values(servers, sender, "pain_duration") == []


@pytest.mark.parametrize("message", ["could somebody from the clinic call me back", "callback request pls"])
def test_a_plain_callback_request_starts_the_booking_flow(servers, message):
    sender = new_sender()
    reply = [m.get("text") for m in chat(servers, sender, message)]
    # Asking for a call reads as booking or as wanting a person: both give the phone number
    # first, then offer the callback request.
    assert reply[0] in (CONTENT.messages["book_appointment"], CONTENT.messages["handoff"])
    assert reply[1:] == [CONTENT.messages["offer_callback"]]
    assert chat(servers, sender, "yes")[0]["text"] == CONTENT.messages["ask_callback_name"]


@pytest.mark.parametrize("when", ["now", "no preference", "not before 10am"])
def test_a_time_that_reads_as_no_or_stop_goes_on_to_consent(servers, when):
    sender = new_sender()
    book_and_accept(servers, sender)
    chat(servers, sender, "Robin Ames")
    chat(servers, sender, "314 555 0142")
    assert [m.get("text") for m in chat(servers, sender, when)] == [
        CONTENT.messages["ask_callback_consent"]]
    assert slot_values(servers, sender, "callback_time") == [when]


@pytest.mark.parametrize("opening, answer, slot, kept", [
    ("can u ring me sometime", "tmrw after 2 is best", "callback_time", "tmrw after 2 is best"),
    ("id like to set up a visit", "weekday mornings", "callback_time", "weekday mornings"),
    ("could somebody get back to me", "my cell is 636 555 0117", "callback_phone",
     "(636) 555-0117"),
    # a booking request again, with a time in it, is a yes too
    ("i want to book", "ok book me for monday then", "callback_time", "ok book me for monday then"),
])
def test_a_time_or_number_given_to_the_callback_offer_takes_it_up(servers, opening, answer,
                                                                  slot, kept):
    sender = new_sender()
    assert [m.get("text") for m in chat(servers, sender, opening)][-1] == \
        CONTENT.messages["offer_callback"]
    # The form starts, with the answer in place: its first question is the name.
    assert [m.get("text") for m in chat(servers, sender, answer)] == [
        CONTENT.messages["ask_callback_name"]]
    assert slot_values(servers, sender, slot)[-1] == kept
    asked = [chat(servers, sender, "Lee Park"), chat(servers, sender, "314 555 0166")
             if slot == "callback_time" else chat(servers, sender, "late afternoon")]
    assert [m.get("text") for m in asked[-1]] == [CONTENT.messages["ask_callback_consent"]]
    chat(servers, sender, "yes")
    assert slot_values(servers, sender, "callback_status") == ["submitted"]


def test_asking_for_a_person_now_after_the_offer_gives_the_number_not_the_form(servers):
    sender = new_sender()
    chat(servers, sender, "can someone call me")
    reply = [m.get("text") for m in chat(servers, sender, "can i just talk to a real person now")]
    assert reply[0] == CONTENT.messages["handoff"]
    assert slot_values(servers, sender, "callback_time") == []


def test_a_description_of_pain_in_the_middle_of_the_form_is_answered_then_it_goes_on(servers):
    sender = new_sender()
    book_and_accept(servers, sender)
    reply = [m.get("text") for m in chat(servers, sender,
                                         "ugh my upper back is so tight, for 2 weeks now")]
    assert reply == [pain_reply("upper back"), CONTENT.messages["ask_callback_name"]]
    assert slot_values(servers, sender, "callback_name") == []
    assert slot_values(servers, sender, "pain_body_part") == ["upper back"]
    assert slot_values(servers, sender, "pain_duration") == ["2 weeks"]


# Conversations that show the clinic's details: every number in them must be the clinic's own
# (or 911 and 988), and another clinic's replies must never name the repository's own clinic
# (tests/test_another_clinic.py runs this file against a second clinic).
SHOWING_THE_CLINIC = [
    ["hello!"],
    ["what does a cryotherapy session cost me", "tell me more"],
    ["what is your street address and when are you open"],
    ["what other treatments do you offer besides the ice"],
    ["i need to talk to a human being"],
    ["i would like to set up a visit with you", "no thanks"],
    ["can you recommend a good pizza place"],
    ["thanks a bunch, that was useful", "ok bye now"],
]
PHONE_NUMBER = re.compile(r"\d(?:[ ().+-]*\d){9,}")  # ten digits or more, written any way


def everything_said(reply):
    return texts(reply) + "".join(
        f"\n{b.get('title', '')} | {b.get('url', '')}" for b in buttons(reply))


@pytest.mark.parametrize("conversation", SHOWING_THE_CLINIC, ids=lambda c: c[0][:30])
def test_replies_give_this_clinics_details_and_no_other(servers, conversation):
    sender = new_sender()
    said = "\n".join(everything_said(chat(servers, sender, message)) for message in conversation)
    numbers = {re.sub(r"\D", "", n) for n in PHONE_NUMBER.findall(said)}
    assert numbers <= {CLINIC.digits, "1" + CLINIC.digits}, numbers
    if DEFAULT_CLINIC.name != CLINIC.name:
        for ident in DEFAULT_CLINIC.identifiers():
            assert ident not in said, ident


def test_cost_replies_say_free_only_if_clinic_yml_says_so(servers):
    """free_initial_consultation in clinic.yml decides; when false, "free" appears nowhere in
    what the visitor is told about cost, the first visit or booking."""
    sender = new_sender()
    cost = everything_said(chat(servers, sender, "how much does a session cost"))
    assert "front desk" in cost.lower() and PHONE in cost
    more = everything_said(chat(servers, sender, "tell me more"))
    assert "insurance" in more
    booking = everything_said(chat(servers, new_sender(), "i want to book an appointment"))
    assert CLINIC.initial_consultation in booking
    free = re.compile(r"\bfree\b", re.I)
    assert bool(free.search(cost)) is CLINIC.free_initial_consultation
    assert bool(free.search(booking)) is CLINIC.free_initial_consultation
    if not CLINIC.free_initial_consultation:
        assert not free.search(more)
