"""Issue 9 over REST, with the real Rasa and action servers: the parse result carries `triage`,
and each level gets its reply: the emergency hard stop (also mid-form, also in Spanish), the
`possible` safety line before the answer with no booking pitch, and a short reply with 911,
988 and the phone number in any language we cannot answer."""
import requests

from clinic.content import load_content
from tests.e2e.conftest import chat, new_sender, texts

CONTENT = load_content()
PHONE = CONTENT.clinic.phone


def parse(servers, text):
    reply = requests.post(f"{servers.rasa_url}/model/parse", params={"token": servers.api_token},
                          json={"text": text}, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_the_parse_result_carries_the_triage(servers):
    result = parse(servers, "no fever, but can ice help my neck?")
    assert result["triage"] == {"level": "none", "flags": [], "language": "en"}
    result = parse(servers, "my husband has a high fever and his back is in agony")
    assert result["triage"] == {"level": "emergency", "flags": ["fever"], "language": "en"}
    assert result["intent"] == {"name": "emergency", "confidence": 1.0}


def test_ordinary_back_pain_is_never_an_emergency(servers):
    for text in ("my back hurts", "my neck hurts", "I hurt my back lifting a box"):
        result = parse(servers, text)
        assert result["triage"]["level"] == "none" and result["intent"]["name"] != "emergency"
        assert "911 or go to the nearest" not in texts(chat(servers, new_sender(), text))


def test_possible_gets_the_safety_line_first_then_the_answer_without_booking(servers):
    reply = chat(servers, new_sender(), "what if I get chest pain during the session?")
    assert reply[0]["text"] == CONTENT.messages["possible_chest_pain"]
    assert reply[0]["custom"] == {"kind": "safety"}
    # The answer after it is an ordinary curated answer, marked only for the widget's
    # "was this helpful?" row.
    assert len(reply) >= 2 and reply[1]["custom"]["kind"] == "answer"
    assert "/book_appointment" not in str(reply)


def test_an_emergency_in_the_middle_of_the_callback_form_stops_it(servers):
    sender = new_sender()
    chat(servers, sender, "/book_appointment")
    assert chat(servers, sender, "/affirm")[0]["text"] == CONTENT.messages["ask_callback_name"]
    reply = chat(servers, sender, "wait, both my legs just went numb and weak")
    assert reply[0]["text"] == CONTENT.answers["emergency"].text
    assert reply[0]["custom"] == {"kind": "emergency"}
    assert CONTENT.messages["ask_callback_phone"] not in texts(reply)


def test_possible_in_the_middle_of_the_form_adds_the_line_and_goes_on(servers):
    sender = new_sender()
    chat(servers, sender, "/book_appointment")
    chat(servers, sender, "/affirm")
    reply = chat(servers, sender, "is it safe if I had cancer years ago?")
    assert reply[0]["text"] == CONTENT.messages["possible_cancer_history"]
    assert texts(reply).count(CONTENT.messages["possible_cancer_history"]) == 1
    assert reply[-1]["text"] == CONTENT.messages["ask_callback_name"]  # the form goes on


def test_a_spanish_emergency_is_answered_in_spanish(servers):
    reply = chat(servers, new_sender(), "no puedo controlar la orina desde ayer y me duele la espalda")
    assert reply[0]["text"] == CONTENT.messages["emergency_es"]
    assert [b["url"] for b in reply[0]["buttons"]] == ["tel:911", "tel:988"]


def test_spanish_self_harm_gets_988_first_in_spanish(servers):
    reply = chat(servers, new_sender(), "ya no aguanto este dolor, quiero quitarme la vida")
    assert reply[0]["text"] == CONTENT.messages["emergency_self_harm_es"]
    assert reply[0]["buttons"][0]["url"] == "tel:988"


def test_spanish_is_never_read_as_yes_or_no(servers):
    result = parse(servers, "no, gracias, solo quería saber el precio")
    assert result["intent"]["name"] not in ("affirm", "deny", "stop")
    reply = chat(servers, new_sender(), "no, gracias, solo quería saber el precio")
    assert texts(reply) == CONTENT.messages["other_language_es"]


def test_another_language_gets_911_988_and_the_phone_number(servers):
    reply = chat(servers, new_sender(), "Bonjour, combien coûte une séance de cryothérapie ?")
    assert texts(reply) == CONTENT.messages["other_language"]
    assert all(part in texts(reply) for part in ("911", "988", PHONE))


def test_the_fallback_carries_the_safety_net_and_no_booking_button(servers):
    reply = chat(servers, new_sender(), "can you recommend a good pizza place")
    assert "911" in texts(reply) and "988" in texts(reply)
    assert "/book_appointment" not in str(reply)


def test_an_emergency_only_the_classifier_saw_never_outranks_the_intent_chosen(servers):
    """The classifier puts `emergency` first for these, and triage does not agree: left in the
    ranking above the intent chosen instead, it read to Rasa's FallbackClassifier as an
    ambiguity, and the visitor got "Sorry, I can't help with that" whatever that intent was
    (tests/unit/test_triage_component.py shows the FallbackClassifier side)."""
    for text in ("my legs are fine and I can walk, it is only my back that hurts",
                 "no fever at all, just back pain for years and nothing works"):
        result = parse(servers, text)
        assert result["triage"]["level"] == "none"
        top = result["intent"]["confidence"]
        assert [r for r in result["intent_ranking"]
                if r["name"] == "emergency" and r["confidence"] > top] == []
