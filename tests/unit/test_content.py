"""actions.content: the loader and validator of content/answers.yml and content/clinic.yml.
Every broken file must fail with a ContentError that names the file and the key."""
import shutil
from pathlib import Path

import pytest
import yaml

import re

from actions.content import (
    FAQ_INTENTS,
    MESSAGE_KEYS,
    ContentError,
    load_content,
    load_or_exit,
    spoken_list,
)

CONTENT = Path(__file__).resolve().parents[2] / "content"


@pytest.fixture
def content_dir(tmp_path):
    return Path(shutil.copytree(CONTENT, tmp_path / "content"))


def edit(path, change):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _parent(data, dotted):
    *keys, last = dotted.split(".")
    for key in keys:
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data, int(last) if isinstance(data, list) else last


def put(dotted, value):
    def change(data):
        parent, key = _parent(data, dotted)
        parent[key] = value
    return change


def drop(dotted):
    def change(data):
        parent, key = _parent(data, dotted)
        del parent[key]
    return change


def test_valid_content_loads(content_dir):
    content = load_content(content_dir)
    assert set(content.answers) == set(FAQ_INTENTS) and len(content.answers) == 13
    assert set(content.messages) == set(MESSAGE_KEYS)
    assert content.clinic.phone == "(314) 731-4201"
    assert content.clinic.tel_uri == "tel:+13147314201"
    assert content.clinic.address is None and content.clinic.hours is None
    texts = list(content.messages.values()) + [
        t for a in content.answers.values() for t in (a.text, a.more) if t]
    assert not any("{" in t or "}" in t for t in texts)  # every placeholder filled
    assert "(314) 731-4201" in content.messages["handoff"]
    assert all(a.sources for a in content.answers.values())
    assert content.answers["ask_benefits"].body_part.count("{body_part}") == 1


@pytest.mark.parametrize("phone, tel", [
    ("(314) 731-4201", "tel:+13147314201"), ("+1 636 555 0100", "tel:+16365550100"),
    ("1-800-555-0199", "tel:+18005550199"),
])
def test_phone_button_is_built_from_clinic_yml(content_dir, phone, tel):
    edit(content_dir / "clinic.yml", put("clinic.phone", phone))
    clinic = load_content(content_dir).clinic
    assert clinic.tel_uri == tel
    assert clinic.phone_button() == {"title": f"Call {phone}", "type": "web_url", "url": tel}


def test_yaml_round_trip_still_loads(content_dir):
    """The edit() helper alone breaks nothing, so each failure below is the edit's doing."""
    for name in ("answers.yml", "clinic.yml"):
        edit(content_dir / name, lambda data: None)
    assert load_content(content_dir) == load_content(CONTENT)


def test_clinic_yml_changes_every_answer(content_dir):
    edit(content_dir / "clinic.yml", put("clinic.name", "Westside Back Care"))
    edit(content_dir / "clinic.yml", put("clinic.phone", "636-555-0100"))
    edit(content_dir / "clinic.yml", put("clinic.address", "12 Example Road"))
    content = load_content(content_dir)
    assert content.clinic.tel_uri == "tel:+16365550100" and content.clinic.address == "12 Example Road"
    texts = list(content.messages.values()) + [
        t for a in content.answers.values() for t in (a.text, a.more, a.body_part) if t]
    assert not any("731-4201" in t or "North County" in t for t in texts)
    assert "636-555-0100" in content.messages["goodbye"]
    assert "Westside Back Care" in content.answers["ask_cost"].text


def all_texts(content):
    return list(content.messages.values()) + [
        t for a in content.answers.values() for t in (a.text, a.more, a.body_part) if t]


def test_answers_yml_hard_codes_no_clinic_fact():
    """Area, services and "free" come from clinic.yml through placeholders, so another clinic
    can reuse answers.yml by editing clinic.yml only."""
    raw = yaml.safe_load((CONTENT / "answers.yml").read_text(encoding="utf-8"))
    clinic = load_content(CONTENT).clinic
    texts = [e["text"] for e in raw["messages"].values()] + [
        a[k] for a in raw["answers"].values() for k in ("text", "more", "body_part") if a.get(k)]
    for text in texts:
        flat = " ".join(text.split())
        assert clinic.name not in flat and clinic.phone not in flat and clinic.area not in flat
        assert not re.search(r"\bfree\b", flat, re.I), flat
        assert not any(service in flat for service in clinic.services), flat


def test_area_and_services_come_from_clinic_yml(content_dir):
    edit(content_dir / "clinic.yml", put("clinic.area", "Kansas City area"))
    edit(content_dir / "clinic.yml", put("clinic.services", ["ice packs", "massage"]))
    content = load_content(content_dir)
    assert "is in the Kansas City area." in content.answers["ask_location_hours"].text
    assert "St. Louis" not in " ".join(all_texts(content))
    assert "lists ice packs and massage." in content.answers["ask_other_treatments"].text
    assert "The treatments the clinic lists are ice packs and massage." in (
        content.answers["ask_session_details"].more)
    assert not any("spinal manipulation" in t for t in all_texts(content))


def test_current_clinic_yml_reads_naturally():
    content = load_content(CONTENT)
    assert content.answers["ask_location_hours"].text.startswith(
        "North County Pain Relief is in the St. Louis area.")
    assert ("lists targeted cryotherapy with ice packs, spinal manipulation, "
            "electric muscle stimulation, hydrotherapy and moist heat therapy.") in (
        content.answers["ask_other_treatments"].text)
    assert content.answers["ask_cost"].text.startswith("The initial consultation is free. ")
    assert content.messages["book_appointment"].startswith("To book your free initial consultation,")


def test_free_consultation_follows_clinic_yml(content_dir):
    edit(content_dir / "clinic.yml", put("clinic.free_initial_consultation", False))
    content = load_content(content_dir)
    texts = all_texts(content)
    assert not any(re.search(r"\bfree\b", t, re.I) for t in texts)
    assert not any("  " in t or t != t.strip() for t in texts)  # the left-out sentence leaves no gap
    cost = content.answers["ask_cost"].text
    assert cost.startswith("For treatment prices at North County Pain Relief") and "(314) 731-4201" in cost
    assert content.messages["book_appointment"].startswith("To book your initial consultation,")
    assert "initial consultation and exam. The team" in content.answers["ask_session_details"].text


def test_services_placeholder_needs_services(content_dir):
    edit(content_dir / "clinic.yml", put("clinic.services", []))
    with pytest.raises(ContentError) as error:
        load_content(content_dir)
    path = content_dir / "answers.yml"
    assert str(error.value).startswith(f"{path}: answers.ask_session_details.more: uses {{services}}")
    assert "clinic.services" in str(error.value)


def test_text_that_is_only_the_left_out_sentence_is_refused(content_dir):
    edit(content_dir / "clinic.yml", put("clinic.free_initial_consultation", False))
    edit(content_dir / "answers.yml", put("answers.ask_cost.text", "{consultation}"))
    with pytest.raises(ContentError) as error:
        load_content(content_dir)
    assert f"{content_dir / 'answers.yml'}: answers.ask_cost.text: empty" in str(error.value)


@pytest.mark.parametrize("items, spoken", [
    (["ice"], "ice"), (["ice", "heat"], "ice and heat"), (["a", "b", "c"], "a, b and c"),
])
def test_spoken_list(items, spoken):
    assert spoken_list(items) == spoken


# answers.yml: how it is broken -> the key the error must name
BAD_ANSWERS = {
    "missing answer": (drop("answers.ask_cost"), "answers.ask_cost"),
    "no sources": (drop("answers.ask_cost.sources"), "answers.ask_cost.sources"),
    "empty sources": (put("answers.ask_cost.sources", []), "answers.ask_cost.sources"),
    "unknown answer key": (put("answers.ask_cost.price", "$99"),
                           "answers.ask_cost: unknown key 'price'"),
    "answer for no intent": (put("answers.ask_parking", {}), "answers: unknown key 'ask_parking'"),
    "empty text": (put("answers.ask_cost.text", " "), "answers.ask_cost.text"),
    "unknown top-level key": (put("extra", 1), "(top level): unknown key 'extra'"),
    "unknown message key": (put("messages.hello", {"text": "Hi"}), "messages: unknown key 'hello'"),
    "missing message": (drop("messages.greet"), "messages.greet"),
    "message without text": (put("messages.greet", {"txt": "Hi"}), "messages.greet"),
    "wrong version": (put("version", 2), "version: expected 1"),
    "unknown placeholder": (put("answers.ask_cost.text", "It costs {price}."),
                            "answers.ask_cost.text: unknown placeholder {price}"),
    "placeholder in message": (put("messages.thank.text", "Thanks {name}"),
                               "messages.thank.text: unknown placeholder {name}"),
    "body_part outside its field": (put("answers.ask_benefits.text", "For {body_part} pain."),
                                    "answers.ask_benefits.text: unknown placeholder {body_part}"),
    "body_part in more": (put("answers.ask_benefits.more", "Your {body_part}."),
                          "answers.ask_benefits.more: unknown placeholder {body_part}"),
    "broken placeholder": (put("answers.ask_cost.text", "Call {phone"), "answers.ask_cost.text"),
    "placeholder typo": (put("answers.ask_cost.text", "We are in the {areas}."),
                         "answers.ask_cost.text: unknown placeholder {areas}"),
    "http url": (put("answers.ask_fda_status.sources.0.url", "http://www.fda.gov/x"),
                 "answers.ask_fda_status.sources[0].url"),
    "url without host": (put("answers.ask_fda_status.sources.0.url", "https://fda"),
                         "answers.ask_fda_status.sources[0].url"),
    "unknown clinic page": (put("answers.ask_cost.sources.0.clinic_page", "prices"),
                            "answers.ask_cost.sources[0].clinic_page"),
    "source without title": (put("answers.ask_fda_status.sources.0", {"url": "https://fda.gov/"}),
                             "answers.ask_fda_status.sources[0].title"),
    "suggestion not answered": (put("answers.ask_cost.suggestions", ["ask_cost", "ask_parking"]),
                                "answers.ask_cost.suggestions[1]"),
    "emergency as suggestion": (put("answers.ask_cost.suggestions", ["emergency"]),
                                "answers.ask_cost.suggestions[0]"),
}
BAD_CLINIC = {
    "bad clinic phone": (put("clinic.phone", "731-4201"), "clinic.phone"),
    # The same rule as the visitor's number (us_phone): ten digits are not enough.
    "clinic phone with area code 911": (put("clinic.phone", "911-555-0123"), "clinic.phone"),
    "clinic phone with exchange 155": (put("clinic.phone", "314 155 0123"), "clinic.phone"),
    "clinic phone with area code 111": (put("clinic.phone", "(111) 555-1234"), "clinic.phone"),
    "clinic phone not from North America": (put("clinic.phone", "+44 20 7946 0958"),
                                            "clinic.phone"),
    "unknown clinic key": (put("clinic.fax", "314 555 0123"), "clinic: unknown key 'fax'"),
    "unknown clinic top-level key": (put("clinics", {}), "(top level): unknown key 'clinics'"),
    "clinic wrong version": (drop("version"), "version: expected 1"),
    "free consultation not a bool": (put("clinic.free_initial_consultation", "yes please"),
                                     "clinic.free_initial_consultation"),
    "services not a list": (put("clinic.services", "ice"), "clinic.services"),
    "empty service": (put("clinic.services", ["ice", " "]), "clinic.services[1]"),
    "area missing": (drop("clinic.area"), "clinic.area"),
    "page without title": (put("clinic.pages.1", {"id": "x"}), "clinic.pages[1].title"),
    "clinic name missing": (drop("clinic.name"), "clinic.name"),
}
BAD_CONTENT = [pytest.param(name, change, key, id=case)
               for name, cases in (("answers.yml", BAD_ANSWERS), ("clinic.yml", BAD_CLINIC))
               for case, (change, key) in cases.items()]


@pytest.mark.parametrize("filename, change, key", BAD_CONTENT)
def test_bad_content_names_file_and_key(content_dir, filename, change, key):
    path = content_dir / filename
    edit(path, change)
    with pytest.raises(ContentError) as error:
        load_content(content_dir)
    assert f"{path}: " in str(error.value) and key in str(error.value)


BAD_FILES = {
    "malformed answers": ("answers.yml", "version: 1\nanswers: [unclosed\n", "not valid YAML"),
    "malformed clinic": ("clinic.yml", "clinic:\n  name: 'x\n", "not valid YAML"),
    "answers not a mapping": ("answers.yml", "- ask_cost\n- ask_safety\n",
                              "expected a mapping at the top level"),
    "empty answers file": ("answers.yml", "", "expected a mapping at the top level"),
    "answers is a list": ("answers.yml", "version: 1\nanswers: []\nmessages: {}\n",
                          "answers: expected a mapping"),
    "missing clinic.yml": ("clinic.yml", None, "file not found"),
    "missing answers.yml": ("answers.yml", None, "file not found"),
}


@pytest.mark.parametrize("filename, text, problem", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_files_name_the_file(content_dir, filename, text, problem):
    path = content_dir / filename
    if text is None:
        path.unlink()
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ContentError) as error:
        load_content(content_dir)
    assert f"{path}: {problem}" in str(error.value)


def test_malformed_yaml_says_where(content_dir):
    path = content_dir / "answers.yml"
    lines = path.read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines) if text.strip().startswith("ask_cost:"))
    lines[line + 1] = "     title: : [How much"  # broken indentation and an unclosed bracket
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ContentError, match=r"not valid YAML") as error:
        load_content(content_dir)
    assert str(path) in str(error.value) and "line" in str(error.value)


def test_load_or_exit_stops_the_server_naming_file_and_key(content_dir):
    path = content_dir / "answers.yml"
    edit(path, drop("answers.ask_safety.sources"))
    with pytest.raises(SystemExit) as stop:
        load_or_exit(content_dir)
    message = str(stop.value.code)
    assert str(path) in message and "answers.ask_safety.sources" in message
    assert message.startswith("Content error")


def test_load_or_exit_returns_good_content(content_dir):
    assert load_or_exit(content_dir) == load_content(content_dir)
