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


@pytest.mark.parametrize("reply", [{"events": "not a list"}, {"events": [{"no_event_key": 1}]},
                                   {"responses": [{"text": 5}], "events": [{"event": 7}]}])
def test_the_error_is_the_one_rasas_own_check_raises(remote_action, reply):
    """jsonschema.validate (what Rasa calls) raises the best match among all errors."""
    from jsonschema import validate
    with pytest.raises(ValidationError) as ours:
        remote_action._validate_action_result(reply)
    with pytest.raises(ValidationError) as rasas:
        validate(reply, RemoteAction.action_response_format_spec())
    assert ours.value.message.startswith(rasas.value.message)
    assert list(ours.value.path) == list(rasas.value.path)


def test_another_rasa_release_keeps_rasas_own_check(monkeypatch):
    import rasa
    original = RemoteAction._validate_action_result
    monkeypatch.setattr(RemoteAction, "_validate_action_result", original)
    monkeypatch.setattr(rasa, "__version__", "3.6.22")
    assert action_validation.install() is False
    assert RemoteAction._validate_action_result is original


def test_rasa_still_calls_the_patched_method(remote_action, monkeypatch):
    """If a Rasa upgrade stopped calling _validate_action_result, the patch would do nothing
    and nobody would notice: the method must still be what RemoteAction.run uses."""
    import inspect
    assert "self._validate_action_result(" in inspect.getsource(RemoteAction.run)
