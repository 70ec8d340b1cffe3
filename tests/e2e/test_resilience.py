"""The visitor is never left without an answer: the action server down or stalled, the Rasa
server restarted (conversations persist in SQLite), and broken content refused at start."""
import shutil
import signal
import subprocess

import pytest
import requests

from clinic.content import load_content
from scripts.serve import BIN, ROOT, server_env
from tests.clinic_facts import CLINIC
from tests.e2e.conftest import chat, new_sender, start_servers, texts

PHONE = CLINIC.phone  # from clinic.yml in the content folder in use
CONTENT = load_content()


@pytest.fixture(scope="module")
def own_servers(tmp_path_factory):
    running = start_servers(tmp_path_factory, "resilience")
    yield running
    running.stop()


def test_stalled_action_server_still_gives_the_phone_number(own_servers):
    sender = new_sender()
    own_servers.actions.send_signal(signal.SIGSTOP)
    try:
        reply = texts(chat(own_servers, sender, "what is cryotherapy"))
    finally:
        own_servers.actions.send_signal(signal.SIGCONT)
    assert PHONE in reply


def test_action_server_down_still_gives_the_phone_number(own_servers):
    sender = new_sender()
    assert "automated" in texts(chat(own_servers, sender, "hello"))
    own_servers.actions.terminate()
    own_servers.actions.wait(timeout=15)
    try:
        reply = texts(chat(own_servers, sender, "does it hurt"))
        assert PHONE in reply
    finally:
        own_servers.start_actions()
    assert "cold" in texts(chat(own_servers, sender, "does it hurt")).lower()


def test_conversation_survives_a_rasa_restart(own_servers):
    sender = new_sender()
    chat(own_servers, sender, "hi there")
    chat(own_servers, sender, "how much does it cost")
    own_servers.rasa.send_signal(signal.SIGINT)
    own_servers.rasa.wait(timeout=30)
    own_servers.start_rasa()
    tracker = requests.get(
        f"{own_servers.rasa_url}/conversations/{sender}/tracker",
        params={"token": own_servers.api_token},
        timeout=30,
    ).json()
    said = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
    assert said == ["hi there", "how much does it cost"]
    # The slots came back too: "tell me more" still knows the last question was about cost.
    more = CONTENT.answers["ask_cost"].more
    assert more in texts(chat(own_servers, sender, "tell me more"))


def test_api_refuses_requests_without_the_token(own_servers):
    reply = requests.get(f"{own_servers.rasa_url}/conversations/x/tracker", timeout=30)
    assert reply.status_code == 401


def test_broken_content_stops_the_action_server_with_file_and_key(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CLINIC.folder, content)
    answers = content / "answers.yml"
    # An unknown key in one answer (renaming an answer would also break the suggestions that
    # name it, and the loader would report one of those first).
    answers.write_text(answers.read_text().replace("  ask_cost:\n", "  ask_cost:\n    prices: $99\n"))
    done = subprocess.run(
        [str(BIN / "python"), "-m", "actions.server", "--port", "0"],
        cwd=ROOT,
        env=server_env({"CLINIC_CONTENT_DIR": str(content), "ACTION_SERVER_TOKEN": "x" * 32}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert str(answers) in done.stderr and "answers.ask_cost: unknown key 'prices'" in done.stderr
