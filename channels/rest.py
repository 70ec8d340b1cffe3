"""Rasa's REST channel, made fit for a public website.

Same address and reply format as Rasa's own (POST /webhooks/rest/webhook with
{"sender": ..., "message": ...}), plus:
- a bad request (not JSON, no sender, a guessable sender id) gets a 400, never a 500;
- an empty or overlong message gets a polite reply instead of reaching the model;
- control characters are removed before the model sees the text;
- when the bot says nothing (the action server is down) or takes too long, the visitor still
  gets the clinic's phone number. A slow turn is not cancelled: it finishes and is stored.
"""
import asyncio
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.content import load_or_exit
from channels import action_validation

# Random ids from the widget (crypto API) or `uuid4().hex`; short ids are guessable.
SENDER_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: Text) -> Text:
    return CONTROL_CHARACTERS.sub(" ", text).strip()


class ClinicRestInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(
            reply_timeout=float(credentials.get("reply_timeout", 10)),
            max_message_chars=int(credentials.get("max_message_chars", 2000)),
        )

    def __init__(self, reply_timeout: float = 10, max_message_chars: int = 2000) -> None:
        self.reply_timeout = reply_timeout
        self.max_message_chars = max_message_chars
        self.content = load_or_exit()
        action_validation.install()

    def _reply(self, sender: Text, key: Text) -> List[Dict[Text, Any]]:
        return [
            {
                "recipient_id": sender,
                "text": self.content.messages[key],
                "buttons": [self.content.clinic.phone_button()],
            }
        ]

    async def _handle(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], request: Request
    ) -> HTTPResponse:
        try:
            body = request.json
        except Exception:  # Sanic raises its own error type for a malformed body
            body = None
        if not isinstance(body, dict):
            return response.json({"error": "Send a JSON object with 'sender' and 'message'."}, 400)
        sender, message = body.get("sender"), body.get("message")
        if not isinstance(sender, str) or not SENDER_ID.fullmatch(sender):
            return response.json(
                {"error": "'sender' must be a random id of 16-64 letters, digits, '-' or '_'."}, 400
            )
        if message is not None and not isinstance(message, str):
            return response.json({"error": "'message' must be text."}, 400)
        text = clean_text(message or "")
        if not text:
            return response.json(self._reply(sender, "empty"))
        if len(text) > self.max_message_chars:
            return response.json(self._reply(sender, "too_long"))

        collector = CollectingOutputChannel()
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
        turn = asyncio.ensure_future(
            on_new_message(
                UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
            )
        )
        try:
            await asyncio.wait_for(asyncio.shield(turn), timeout=self.reply_timeout)
        except asyncio.TimeoutError:
            return response.json(collector.messages + self._reply(sender, "unavailable"))
        except Exception:
            return response.json(self._reply(sender, "unavailable"))
        # Rasa logs a failed custom action and carries on silently; the visitor must not be
        # left without an answer.
        return response.json(collector.messages or self._reply(sender, "unavailable"))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("clinic_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self._handle(on_new_message, request)

        return webhook
