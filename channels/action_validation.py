"""Validates action server replies with a validator built once, not once per reply.

Rasa's RemoteAction checks every reply with `jsonschema.validate(result, spec)`, which first
re-validates the constant spec itself against the JSON Schema 2020-12 meta-schema. Profiling
the Rasa server under load (py-spy; README, "What each change bought") put 58% of its time
there. The reply is still checked against the same spec, with the same error on failure.
"""
from typing import Any, Dict, Text

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_spec = RemoteAction.action_response_format_spec()
_validator_class = validator_for(_spec)
_validator_class.check_schema(_spec)
_VALIDATOR = _validator_class(_spec)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    try:
        _VALIDATOR.validate(result)
        return True
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result
