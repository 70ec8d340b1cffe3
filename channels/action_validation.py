"""Validates action server replies with a validator built once, not once per reply.

Rasa's RemoteAction checks every reply with `jsonschema.validate(result, spec)`, which first
re-validates the constant spec itself against the JSON Schema 2020-12 meta-schema. Profiling
the Rasa server under load (py-spy; README, "What each change bought") put 58% of its time
there. The reply is still checked against the same spec, with the error Rasa's own check raises (jsonschema's best match).
"""
import logging
from typing import Any, Dict, Text

import rasa
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_spec = RemoteAction.action_response_format_spec()
_validator_class = validator_for(_spec)
_validator_class.check_schema(_spec)
_VALIDATOR = _validator_class(_spec)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    # jsonschema.validate raises the best-matching error, not the first one found: so do we.
    error = best_match(_VALIDATOR.iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        f"from the Action endpoint is valid. For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


logger = logging.getLogger(__name__)
# The Rasa release whose RemoteAction._validate_action_result this replaces, line for line.
WRITTEN_FOR = "3.6.21"


def install() -> bool:
    """Replaces the method for this process (scripts/rasa_server.py calls it once, before Rasa
    starts). On another Rasa release it changes nothing and says so: Rasa's own check is slower
    but right."""
    if rasa.__version__ != WRITTEN_FOR:
        logger.warning("action reply validation: written for Rasa %s, this is %s; keeping Rasa's "
                       "own validation", WRITTEN_FOR, rasa.__version__)
        return False
    RemoteAction._validate_action_result = _validate_action_result
    logger.info("action reply validation: using a validator built once (Rasa %s)", WRITTEN_FOR)
    return True
