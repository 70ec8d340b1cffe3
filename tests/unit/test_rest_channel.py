"""channels/rest.py: the text cleaning and the sender id rule, tested directly. The HTTP
behaviour is covered by the end-to-end tests that run the real servers."""
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from actions.replies import phone_button
from channels.rest import SENDER_ID, ClinicRestInput, clean_text
from tests.clinic_facts import CLINIC

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text, cleaned", [
    ("how much is it?", "how much is it?"),
    ("  padded  ", "padded"),
    ("a\x00b", "a b"),                          # NUL
    ("\x1b[31mred\x1b[0m", "[31mred [0m"),      # ESC of a terminal colour code
    ("bell\x07", "bell"),                       # stripped at the end
    ("del\x7fete", "del ete"),                  # DEL
    ("next\x85line", "next line"),              # C1 control (NEL)
    ("\x9bcsi", "csi"),                         # C1 control at the start
    ("line one\nline two", "line one\nline two"),   # newlines are kept
    ("a\tb", "a\tb"),                           # tabs are kept
    ("dos\r\nline", "dos \nline"),              # CR is a control character, LF stays
    ("form\x0cfeed\x0bvtab", "form feed vtab"),
    ("\x00\x01\x02", ""),                       # nothing left: the channel answers "empty"
    ("naïve café ☃ 😀", "naïve café ☃ 😀"),      # ordinary Unicode is untouched
])
def test_clean_text(text, cleaned):
    assert clean_text(text) == cleaned


def test_clean_text_leaves_no_c0_or_c1_control_but_newline_and_tab():
    everything = "".join(chr(c) for c in range(0x00, 0xA0))
    cleaned = clean_text("x" + everything + "x")
    controls = {c for c in cleaned if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0}
    assert controls == {"\t", "\n"}
    assert "".join(chr(c) for c in range(0x20, 0x7F)) in cleaned  # printable ASCII kept, in order
    assert len(cleaned) == len(everything) + 2  # each control became one space, none vanished


@pytest.mark.parametrize("sender", [
    uuid.uuid4().hex, str(uuid.uuid4()), secrets.token_urlsafe(16), secrets.token_urlsafe(48),
    "a" * 16, "Z9_-" * 16, "0123456789abcdef",
])
def test_random_sender_ids_are_accepted(sender):
    assert SENDER_ID.fullmatch(sender)


@pytest.mark.parametrize("sender", [
    "", "default", "user1", "a" * 15, "a" * 65, uuid.uuid4().hex + "\n",
    " " + uuid.uuid4().hex, "0123456789abcdef!", "0123456789abcdef.xyz", "../../etc/passwd00000",
    "0123456789abcdé0", "0123456789 abcdef", "0123456789/abcdef", "0123456789+abcdef=",
])
def test_short_or_odd_sender_ids_are_rejected(sender):
    assert SENDER_ID.fullmatch(sender) is None


@pytest.mark.parametrize("key", ["empty", "too_long", "unavailable"])
def test_channel_replies_carry_the_same_phone_button_as_the_actions(key):
    channel = ClinicRestInput()
    reply = channel._reply("a" * 16, key)
    assert reply == [{"recipient_id": "a" * 16, "text": channel.content.messages[key],
                      "buttons": [phone_button()]}]
    assert phone_button() == {"title": f"Call {CLINIC.phone}", "type": "web_url",
                              "url": f"tel:+1{CLINIC.digits}"}


def test_channel_does_not_import_rasa_sdk():
    """The channel runs inside the Rasa server, where rasa_sdk is not a dependency."""
    check = ("import sys; import channels.rest; "
             "assert not [m for m in sys.modules if m.split('.')[0] == 'rasa_sdk'], 'rasa_sdk'")
    subprocess.run([sys.executable, "-c", check], cwd=ROOT, check=True, timeout=120)


def test_the_api_token_reaches_rasa_whatever_its_first_character(monkeypatch):
    """secrets.token_urlsafe() can start with "-"; passed as a separate argument, argparse
    took it for an option and Rasa exited with code 2 (one start in about 64)."""
    import rasa.__main__
    from channels import action_validation
    from scripts import rasa_server

    seen = {}
    monkeypatch.setattr(action_validation, "install", lambda: True)
    monkeypatch.setenv("RASA_API_TOKEN", "-" + "x" * 31)
    monkeypatch.setattr(sys, "argv", ["rasa_server", "--port", "1"])
    monkeypatch.setattr(rasa.__main__, "main", lambda: seen.update(argv=list(sys.argv)))
    rasa_server.main()
    parser = rasa.__main__.create_argument_parser()
    arguments = parser.parse_args(seen["argv"][1:])
    assert arguments.auth_token == "-" + "x" * 31 and arguments.enable_api
