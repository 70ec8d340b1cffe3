"""clinic.content: the loader and validator of content/answers.yml and content/clinic.yml.
Every broken file must fail with a ContentError that names the file and the key."""
import shutil
from pathlib import Path

import pytest
import yaml

import re

from clinic.content import (
    MESSAGE_KEYS,
    ContentError,
    load_content,
    load_or_exit,
    read_fact_urls,
    spoken_list,
)
from tests.clinic_facts import CLINIC

# The content folder in use (CLINIC_CONTENT_DIR, else content/), and its clinic's facts read
# from its clinic.yml (tests/clinic_facts.py). The tests below that edit a copy of it check the
# values they wrote themselves.
CONTENT = CLINIC.folder
# The product owner's corrected fact sheet, next to the repository on the team's machines.
SHARED_FACTS = Path(__file__).resolve().parents[3] / "shared" / "content" / "facts.md"


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
    assert len(content.answers) == 13 and "emergency" in content.answers
    assert set(content.messages) == set(MESSAGE_KEYS)
    assert content.clinic.phone == CLINIC.phone
    assert content.clinic.tel_uri == CLINIC.tel
    assert content.clinic.address == CLINIC.address and content.clinic.hours == CLINIC.hours
    texts = list(content.messages.values()) + [
        t for a in content.answers.values() for t in (a.text, a.more) if t]
    assert not any("{" in t or "}" in t for t in texts)  # every placeholder filled
    assert CLINIC.phone in content.messages["handoff"]
    assert all(a.sources for a in content.answers.values())
    assert all(a.short_sources for a in content.answers.values())
    assert content.answers["ask_benefits"].body_part.count("{body_part}") == 1


@pytest.mark.parametrize("phone, shown, tel", [
    ("(314) 731-4201", "(314) 731-4201", "tel:+13147314201"),
    ("+1 636 555 0100", "(636) 555-0100", "tel:+16365550100"),
    ("1-800-555-0199", "(800) 555-0199", "tel:+18005550199"),
])
def test_phone_button_is_built_from_clinic_yml(content_dir, phone, shown, tel):
    # Shown in one form however it is written: the widget links numbers in that form.
    edit(content_dir / "clinic.yml", put("clinic.phone", phone))
    clinic = load_content(content_dir).clinic
    assert clinic.phone == shown and clinic.tel_uri == tel
    assert clinic.phone_button() == {"title": f"Call {shown}", "type": "web_url", "url": tel}


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
    texts = all_texts(content)
    assert not any(ident in t for t in texts for ident in CLINIC.identifiers())
    assert "(636) 555-0100" in content.messages["goodbye"]
    assert "Westside Back Care" in content.answers["ask_cost"].text


def all_texts(content):
    return list(content.messages.values()) + list(content.body_part_messages.values()) + [
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
    assert CLINIC.area not in " ".join(all_texts(content))
    assert "lists ice packs and massage." in content.answers["ask_other_treatments"].text
    assert "The treatments the clinic lists are ice packs and massage." in (
        content.answers["ask_session_details"].more)
    assert not any(service in t for t in all_texts(content) for service in CLINIC.services)


def test_current_clinic_yml_reads_naturally():
    content = load_content(CONTENT)
    assert content.answers["ask_location_hours"].text.startswith(
        f"{CLINIC.name} is in the {CLINIC.area}.")
    services = CLINIC.services
    spoken = services[0] if len(services) == 1 else f"{', '.join(services[:-1])} and {services[-1]}"
    assert f"{CLINIC.name} lists {spoken}." in content.answers["ask_other_treatments"].text
    cost = content.answers["ask_cost"].text
    if CLINIC.free_initial_consultation:
        assert cost.startswith("The initial consultation is free. ")
        assert content.messages["book_appointment"].startswith("To book your free initial consultation,")
    else:
        assert cost.startswith(f"For treatment prices at {CLINIC.name} ")
        assert content.messages["book_appointment"].startswith("To book your initial consultation,")


def test_free_consultation_follows_clinic_yml(content_dir):
    edit(content_dir / "clinic.yml", put("clinic.free_initial_consultation", False))
    content = load_content(content_dir)
    texts = all_texts(content)
    assert not any(re.search(r"\bfree\b", t, re.I) for t in texts)
    assert not any("  " in t or t != t.strip() for t in texts)  # the left-out sentence leaves no gap
    cost = content.answers["ask_cost"].text
    assert cost.startswith(f"For treatment prices at {CLINIC.name} ") and CLINIC.phone in cost
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
    "missing emergency answer": (drop("answers.emergency"), "answers.emergency: missing"),
    "no sources": (drop("answers.ask_cost.sources"), "answers.ask_cost.sources"),
    "empty sources": (put("answers.ask_cost.sources", []), "answers.ask_cost.sources"),
    "unknown answer key": (put("answers.ask_cost.price", "$99"),
                           "answers.ask_cost: unknown key 'price'"),
    "new answer without sources": (put("answers.ask_parking", {}), "answers.ask_parking.sources"),
    "answer not named as an intent": (put("answers.Ask Parking", {}), "answers.Ask Parking:"),
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
    # Issue 10: a source is the exact page, it is in content/facts.md, and the short text's
    # sources are marked.
    "home page url": (put("answers.ask_fda_status.sources.0.url", "https://www.fda.gov/"),
                      "answers.ask_fda_status.sources[0].url: 'https://www.fda.gov/' is a site's home page"),
    "url with an empty path": (put("answers.ask_fda_status.sources.0.url", "https://www.fda.gov"),
                               "answers.ask_fda_status.sources[0].url: 'https://www.fda.gov' is a site's home page"),
    "source without url": (drop("answers.ask_fda_status.sources.0.url"),
                           "answers.ask_fda_status.sources[0].url: missing"),
    "url not in facts.md": (put("answers.ask_fda_status.sources.0.url", "https://www.fda.gov/other-page"),
                            "answers.ask_fda_status.sources[0].url: https://www.fda.gov/other-page is not in"),
    "url only a prefix of one in facts.md": (
        put("answers.ask_fda_status.sources.0.url", "https://www.nhs.uk/conditions/back"),
        "answers.ask_fda_status.sources[0].url: https://www.nhs.uk/conditions/back is not in"),
    "no source marked short": (put("answers.ask_cost.sources", [{"clinic_page": "cryotherapy-muscle-spasms"}]),
                               "answers.ask_cost.sources: mark the sources that back the short text"),
    "short not true or false": (put("answers.ask_cost.sources.0.short", "yes"),
                                "answers.ask_cost.sources[0].short: expected true or false"),
    "url on a clinic page source": (put("answers.ask_cost.sources.0.url", "https://example.org/page"),
                                    "answers.ask_cost.sources[0]: unknown key 'url'"),
    # A message's body_part line (describe_pain only): it names the body part, nothing else.
    "body_part line on another message": (put("messages.greet.body_part", "Your {body_part}."),
                                          "messages.greet: unknown key 'body_part'"),
    "message body_part without the name": (put("messages.describe_pain.body_part", "I'm sorry."),
                                           "messages.describe_pain.body_part: write {body_part}"),
    "message body_part saying the duration": (
        put("messages.describe_pain.body_part", "Your {body_part} has hurt for {pain_duration}."),
        "messages.describe_pain.body_part: unknown placeholder {pain_duration}"),
    "empty message body_part": (put("messages.describe_pain.body_part", " "),
                                "messages.describe_pain.body_part: expected non-empty text"),
    "body_part in a message's text": (put("messages.describe_pain.text", "Sorry, {body_part}."),
                                      "messages.describe_pain.text: unknown placeholder {body_part}"),
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
    "page url is the home page": (put("clinic.pages.0.url", "https://clinic.example.org/"),
                                  "clinic.pages[0].url: 'https://clinic.example.org/' is a site's home page"),
    "page url not https": (put("clinic.pages.0.url", "http://clinic.example.org/cryo"),
                           "clinic.pages[0].url: expected an https:// address"),
    "unknown page key": (put("clinic.pages.0.link", "https://clinic.example.org/cryo"),
                         "clinic.pages[0]: unknown key 'link'"),
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
    "missing facts.md": ("facts.md", None, "file not found"),
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


def test_load_or_exit_reads_the_files_once_per_process(content_dir):
    first = load_or_exit(content_dir)
    edit(content_dir / "answers.yml", drop("answers.ask_safety.sources"))
    assert load_or_exit(content_dir) is first  # the channel, classifier and actions share it


# Issue 10: the sources of the content before it, each refused with file and key.
OLD_SOURCES = {
    "mpft.nhs.uk home page": {"title": "NHS Midlands Partnership trust: Safe use of cold treatment",
                              "url": "https://www.mpft.nhs.uk/"},
    "deroyal.com home page": {"title": "Cold-therapy device instructions", "url": "https://www.deroyal.com/"},
    "httrmt.ca home page": {"title": "Ice-pack advice", "url": "https://httrmt.ca/"},
    "balticsportscience.com home page": {"title": "120-patient randomized trial",
                                         "url": "https://balticsportscience.com/"},
    "spine-health.com home page": {"title": "Spine-health", "url": "https://www.spine-health.com/"},
    "988lifeline.org home page": {"title": "988 Suicide & Crisis Lifeline", "url": "https://988lifeline.org/"},
    "Cochrane review without an address": {
        "title": "Cochrane review on heat and cold for low back pain (French et al., Spine 2006;31:998)"},
}


@pytest.mark.parametrize("source", OLD_SOURCES.values(), ids=OLD_SOURCES.keys())
def test_the_old_sources_are_refused(content_dir, source):
    path = content_dir / "answers.yml"
    edit(path, put("answers.ask_evidence.sources.1", source))
    with pytest.raises(ContentError) as error:
        load_content(content_dir)
    assert str(error.value).startswith(f"{path}: answers.ask_evidence.sources[1].url: ")


def test_old_answers_without_short_marks_are_refused(content_dir):
    """Before issue 10 the short answer showed only the first source: every answer must now
    mark the sources its short text rests on."""
    def unmark(data):
        for answer in data["answers"].values():
            for source in answer["sources"]:
                source.pop("short", None)
    edit(content_dir / "answers.yml", unmark)
    with pytest.raises(ContentError, match=r"answers.ask_what_is_cryotherapy.sources: mark"):
        load_content(content_dir)


def test_every_source_is_a_clinic_page_or_in_facts_md():
    """Checked here from the files themselves, apart from the loader."""
    raw = yaml.safe_load((CONTENT / "answers.yml").read_text(encoding="utf-8"))
    clinic = yaml.safe_load((CONTENT / "clinic.yml").read_text(encoding="utf-8"))["clinic"]
    pages = {page["id"] for page in clinic["pages"]}
    facts = read_fact_urls(CONTENT / "facts.md")
    for intent, answer in raw["answers"].items():
        for source in answer["sources"]:
            if "clinic_page" in source:
                assert source["clinic_page"] in pages, (intent, source)
            else:
                assert source["url"] in facts, (intent, source)
                assert source["url"].split("://", 1)[1].strip("/").count("/") >= 1, (intent, source)


def test_facts_md_in_the_repository_keeps_the_fact_sheet_word_for_word():
    """content/facts.md sections 1-7 are the product owner's corrected fact sheet; sections 8
    and 9 are ours. Checked where the shared fact sheet is next to the repository."""
    if not SHARED_FACTS.exists():
        pytest.skip(f"{SHARED_FACTS} is not on this machine")
    ours = (CONTENT / "facts.md").read_text(encoding="utf-8")
    assert SHARED_FACTS.read_text(encoding="utf-8").strip() in ours


def test_facts_md_reader_takes_whole_addresses(tmp_path):
    path = tmp_path / "facts.md"
    path.write_text("See https://a.example/x/y. Also (https://b.example/z), and "
                    "https://c.example/p?q=1, done.\n", encoding="utf-8")
    assert read_fact_urls(path) == {"https://a.example/x/y", "https://b.example/z",
                                    "https://c.example/p?q=1"}


def test_clinic_page_url_is_shown_with_its_answers(content_dir):
    url = "https://clinic.example.org/blog/using-cryotherapy-to-treat-muscle-spasms"
    pages = yaml.safe_load((CONTENT / "clinic.yml").read_text(encoding="utf-8"))["clinic"]["pages"]
    index = next(i for i, page in enumerate(pages) if page["id"] == "cryotherapy-muscle-spasms")
    edit(content_dir / "clinic.yml", put(f"clinic.pages.{index}.url", url))
    content = load_content(content_dir)
    assert content.clinic.pages["cryotherapy-muscle-spasms"].url == url
    source = content.answers["ask_cost"].sources[0]
    title = CLINIC.page_titles["cryotherapy-muscle-spasms"]
    assert source.url == url and source.title == f"{CLINIC.name}: {title}"
    # As the clinic's own file has it (content/clinic.yml: not given yet).
    assert load_content(CONTENT).answers["ask_cost"].sources[0].url == pages[index].get("url")


def test_the_harvard_theory_is_quoted_as_a_theory_with_its_caveat():
    """Issue 10: the 2018 article gives "much like an ice pack would on your swollen ankle" as
    the theory behind cryotherapy, then says there is no scientific proof, according to the FDA."""
    content = load_content(CONTENT)
    quoting = [a.more for a in content.answers.values() if a.more and "swollen ankle" in a.more]
    assert quoting
    for text in quoting:
        assert "theory" in text and "no scientific proof" in text and "FDA" in text


def test_messages_route_urgency_to_911_and_988_not_to_the_clinic():
    messages = load_content(CONTENT).messages
    assert "urgent" not in messages["callback_saved"].lower()
    assert "rather not wait" in messages["callback_saved"] and "911" in messages["callback_saved"]
    assert "911" in messages["greet"] and "988" in messages["greet"]


def test_describe_pain_names_the_body_part_in_place_of_its_first_sentence(content_dir):
    edit(content_dir / "answers.yml", put("messages.describe_pain", {
        "text": "Sorry you're hurting. {clinic_name} can help! Call {phone}.",
        "body_part": "Sorry your {body_part}  is hurting."}))
    content = load_content(content_dir)
    rest = f"{CLINIC.name} can help! Call {CLINIC.phone}."
    assert content.message("describe_pain") == content.messages["describe_pain"] == \
        f"Sorry you're hurting. {rest}"
    assert content.message("describe_pain", "lower back") == \
        f"Sorry your lower back is hurting. {rest}"
    assert content.message("greet", "neck") == content.messages["greet"]  # it has none


@pytest.mark.parametrize("text", ["Sorry you're hurting.", "Sorry you're hurting"])
def test_a_one_sentence_text_is_replaced_whole(content_dir, text):
    edit(content_dir / "answers.yml", put("messages.describe_pain",
                                          {"text": text, "body_part": "Sorry about your {body_part}."}))
    assert load_content(content_dir).message("describe_pain", "neck") == "Sorry about your neck."


def test_without_a_body_part_line_the_message_stays_as_it_is(content_dir):
    edit(content_dir / "answers.yml", drop("messages.describe_pain.body_part"))
    content = load_content(content_dir)
    assert content.body_part_messages == {}
    assert content.message("describe_pain", "neck") == content.messages["describe_pain"]


def test_the_pain_reply_in_use_names_the_body_part_and_nothing_else():
    content = load_content(CONTENT)
    plain = content.messages["describe_pain"]
    assert plain.startswith("I'm sorry you're hurting. ")
    assert content.message("describe_pain", "neck") == \
        "I'm sorry to hear about the neck pain. " + plain[len("I'm sorry you're hurting. "):]
    assert set(content.body_part_messages) == {"describe_pain"}
    assert content.body_part_messages["describe_pain"].count("{body_part}") == 1
