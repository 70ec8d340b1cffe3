"""channels/action_validation.py: action server replies are still checked against Rasa's spec."""
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from channels import action_validation


@pytest.fixture
def remote_action(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    action_validation.install()
    assert RemoteAction._validate_action_result is action_validation._validate_action_result
    return RemoteAction("action_answer_faq", None)


def test_a_valid_reply_passes(remote_action):
    reply = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "hi"}]}
    assert remote_action._validate_action_result(reply) is True


@pytest.mark.parametrize("reply", [{"events": "not a list"}, {"events": [{"no_event_key": 1}]}])
def test_an_invalid_reply_is_refused_with_rasas_message(remote_action, reply):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        remote_action._validate_action_result(reply)
