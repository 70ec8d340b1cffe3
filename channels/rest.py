"""Rasa's REST channel, made fit for a public website.

Same address and reply format as Rasa's own (POST /webhooks/rest/webhook with
{"sender": ..., "message": ...}), plus:
- a bad request (not JSON, no sender, a guessable sender id) gets a 400, never a 500;
- an empty or overlong message gets a polite reply instead of reaching the model;
- control characters are removed before the model sees the text;
- when the bot says nothing (the action server is down) or takes too long, the visitor still
  gets the clinic's phone number. A slow turn is not cancelled: it finishes and is stored;
- when a turn could not be written to the tracker store (stores/spooling_sql.py keeps it and
  retries), the visitor is told so, with the phone number;
- a retried message is answered once: the widget gives each message a random `message_id`
  and sends it again with `"retry": true` when no answer came back; if the conversation
  already holds that message (a replica stored the turn and died before replying), the stored
  replies are sent instead of a second turn;
- abuse limits: a browser on another site cannot post (`Origin` must be the clinic's site and
  the body JSON, which browsers cannot send cross-site without CORS); messages per minute per
  conversation and per address; the visitor's `metadata` is dropped (the server sets its own:
  a keyed hash of the address, for the callback form's limits); a `/intent` payload is taken
  only for the intents the widget's buttons send, never `/emergency`, and otherwise read as text.

Settings (environment): WEB_ORIGIN (comma-separated origins allowed to post; requests with no
Origin header, such as curl, are allowed), CHAT_TRUSTED_PROXIES (addresses whose
X-Forwarded-For is believed), CHAT_LIMITS_STORE (`memory`, the default, for one process;
`redis` when several replicas must count a visitor alike: REDIS_HOST, REDIS_PORT,
REDIS_PASSWORD and CHAT_LIMITS_REDIS_DB, default 2), and in credentials.yml reply_timeout,
max_message_chars, messages_per_minute_per_sender and messages_per_minute_per_address.
"""
import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

import yaml

from clinic.content import load_or_exit
from clinic.names import INTENT_EXPLAIN_VERDICT, INTENT_RATE_ANSWER, VERDICT_REASONS, VERDICTS
from stores.spooling_sql import SpoolingSQLTrackerStore, turn_was_not_saved
from visitors.address import client_address, parse_trusted
from visitors.limits import LocalLimits, SharedLimits, redis_from_environment, shared_key

logger = logging.getLogger(__name__)
DOMAIN = Path(__file__).resolve().parents[1] / "domain.yml"

# Random ids from the widget (crypto API) or `uuid4().hex`; short ids are guessable.
SENDER_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
PAYLOAD = re.compile(r"/([a-z_]+)(\{.{0,300}\})?")
# The only payloads that may carry entities: a visitor's verdict on an answer, from the widget's
# "Helpful" / "Not helpful" buttons and the reason asked for after "not helpful" (actions/
# verdicts.py). Every value must be one of these (the answer: a word of lower-case letters and
# underscores, checked against the answers by the action).
PAYLOAD_ENTITIES = {
    INTENT_RATE_ANSWER: {"answer": None, "verdict": set(VERDICTS)},
    INTENT_EXPLAIN_VERDICT: {"answer": None, "reason": set(VERDICT_REASONS)},
}
INTENT_NAME = re.compile(r"[a-z_]{1,60}")
# Intents a visitor may trigger directly with a button payload: an emergency is decided by the
# model and triage, never claimed by a payload.
NEVER_BY_PAYLOAD = {"emergency"}


def button_intents(domain: Path = DOMAIN) -> frozenset:
    intents = yaml.safe_load(domain.read_text(encoding="utf-8"))["intents"]
    names = {i if isinstance(i, str) else next(iter(i)) for i in intents}
    return frozenset(names - NEVER_BY_PAYLOAD)


def read_payload(text: Text, allowed: frozenset) -> Text:
    """A payload of an allowed intent as it is (with entities only as PAYLOAD_ENTITIES allows);
    anything else that starts with "/" as the words after it, for the model to read."""
    match = PAYLOAD.fullmatch(text)
    if match and match.group(1) in allowed and entities_allowed(match.group(1), match.group(2)):
        return text
    return text.lstrip("/").strip() if text.startswith("/") else text


def entities_allowed(intent: Text, raw: Optional[Text]) -> bool:
    if raw is None:
        return True
    schema = PAYLOAD_ENTITIES.get(intent)
    try:
        entities = json.loads(raw)
    except ValueError:
        return False
    return (schema is not None and isinstance(entities, dict) and set(entities) == set(schema)
            and all(isinstance(v, str) and INTENT_NAME.fullmatch(v)
                    and (schema[k] is None or v in schema[k]) for k, v in entities.items()))


def clean_text(text: Text) -> Text:
    return CONTROL_CHARACTERS.sub(" ", text).strip()


def merge_custom(messages: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    """Rasa sends a reply's `custom` part ({"kind": "emergency"}) as a message of its own; the
    widget needs it on the reply it belongs to, so it joins the message before it."""
    merged: List[Dict[Text, Any]] = []
    for message in messages:
        if merged and set(message) <= {"recipient_id", "custom"} and "custom" in message:
            merged[-1] = {**merged[-1], "custom": message["custom"]}
        else:
            merged.append(message)
    return merged


def replies_to(tracker: Any, message_id: Text) -> Optional[List[Dict[Text, Any]]]:
    """The bot's replies to the visitor message `message_id`, as the REST channel sent them, if
    the tracker holds that message; None if it does not."""
    replies: Optional[List[Dict[Text, Any]]] = None
    for event in tracker.events if tracker is not None else []:
        if isinstance(event, UserUttered):
            if replies is not None:
                break
            if event.message_id == message_id:
                replies = []
        elif replies is not None and isinstance(event, BotUttered):
            reply = {"recipient_id": tracker.sender_id, "text": event.text,
                     **{key: value for key, value in (event.data or {}).items()
                        if key in ("buttons", "image", "attachment", "custom") and value}}
            replies.append({key: value for key, value in reply.items() if value is not None})
    return replies


async def stored_replies(tracker_store: Any, sender: Text,
                         message_id: Text) -> Optional[List[Dict[Text, Any]]]:
    """replies_to in the conversation's current session (with any turns the store keeps to
    write later), else in all of it: the message may have been the last before a new session
    (stores/session_rollover.py)."""
    for read in (tracker_store.retrieve, tracker_store.retrieve_full_tracker):
        replies = replies_to(await read(sender), message_id)
        if replies is not None:
            return replies
    return None


def unsaved_conversations(app: Any) -> int:
    store = getattr(app.ctx.agent.tracker_store, "_tracker_store", None)  # inside FailSafe
    return store.waiting() if isinstance(store, SpoolingSQLTrackerStore) else 0


def _log_failure(turn: "asyncio.Future[Any]") -> None:
    """A turn that outlived its reply timeout and then failed is logged, not lost."""
    if not turn.cancelled() and turn.exception() is not None:
        logger.error("rest channel: a late turn failed", exc_info=turn.exception())


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
            per_sender=int(credentials.get("messages_per_minute_per_sender", 30)),
            per_address=int(credentials.get("messages_per_minute_per_address", 120)),
        )

    def __init__(self, reply_timeout: float = 10, max_message_chars: int = 2000,
                 per_sender: int = 30, per_address: int = 120) -> None:
        self.reply_timeout = reply_timeout
        self.max_message_chars = max_message_chars
        self.content = load_or_exit()
        self.allowed_payloads = button_intents()
        self.allowed_origins = {o.strip().rstrip("/") for o in
                                os.environ.get("WEB_ORIGIN", "").split(",") if o.strip()}
        self.proxies = parse_trusted(os.environ.get("CHAT_TRUSTED_PROXIES"),
                                     "CHAT_TRUSTED_PROXIES")
        windows = {"sender": (per_sender, 60), "address": (per_address, 60)}
        # The address key makes the address hash put in the tracker: random, so it identifies
        # nobody; shared by the replicas of a cluster, so they count a visitor alike.
        limits_store = os.environ.get("CHAT_LIMITS_STORE") or "memory"
        if limits_store == "redis":
            client = redis_from_environment(int(os.environ.get("CHAT_LIMITS_REDIS_DB") or 2))
            self.limits = SharedLimits(client, windows)
            self.address_key = shared_key(client, "clinic:limits:address-key")
        elif limits_store == "memory":
            self.limits = LocalLimits(windows)
            self.address_key = secrets.token_bytes(16)
        else:
            raise ValueError(f"CHAT_LIMITS_STORE must be 'memory' or 'redis', not "
                             f"{limits_store!r}")

    def _reply(self, sender: Text, key: Text) -> List[Dict[Text, Any]]:
        return [
            {
                "recipient_id": sender,
                "text": self.content.messages[key],
                "buttons": [self.content.clinic.phone_button()],
            }
        ]

    def _refusal(self, request: Request) -> Optional[HTTPResponse]:
        origin = request.headers.get("origin")
        if origin is not None and origin.rstrip("/") not in self.allowed_origins:
            logger.warning("rest channel: refused a message from origin %r", origin[:100])
            return response.json({"error": "This site may not post chat messages."}, 403)
        if not (request.content_type or "").startswith("application/json"):
            return response.json({"error": "Send the message as application/json."}, 415)
        return None

    async def _handle(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], request: Request
    ) -> HTTPResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
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
        message_id = body.get("message_id")
        if message_id is not None and (not isinstance(message_id, str)
                                       or not SENDER_ID.fullmatch(message_id)):
            return response.json({"error": "'message_id' must be a random id of 16-64 "
                                           "letters, digits, '-' or '_'."}, 400)
        text = read_payload(clean_text(message or ""), self.allowed_payloads)
        if not text:
            return response.json(self._reply(sender, "empty"))
        if len(text) > self.max_message_chars:
            return response.json(self._reply(sender, "too_long"))

        address = client_address(request.ip, request.headers.getall("x-forwarded-for", []),
                                 self.proxies)
        client = hmac.new(self.address_key, address.encode(), hashlib.sha256).hexdigest()[:16]
        if not self.limits.admit([("address", client), ("sender", sender)]):
            logger.warning("rest channel: too many messages from one conversation or address")
            return response.json(self._reply(sender, "rate_limited"), 429)

        if message_id is not None and body.get("retry") is True:
            agent = request.app.ctx.agent
            # Under the conversation's lock: a first attempt still running finishes first.
            async with agent.lock_store.lock(sender):
                earlier = await stored_replies(agent.tracker_store, sender, message_id)
            if earlier is not None:
                logger.info("rest channel: a retried message was already answered; "
                            "its stored replies were sent again")
                return response.json(earlier or self._reply(sender, "unavailable"))
        collector = CollectingOutputChannel()
        message_id = message_id or uuid.uuid4().hex
        turn = asyncio.ensure_future(
            on_new_message(
                UserMessage(text, collector, sender,
                            input_channel=self.name(), message_id=message_id,
                            metadata={"client": client})
            )
        )
        try:
            await asyncio.wait_for(asyncio.shield(turn), timeout=self.reply_timeout)
        except asyncio.TimeoutError:
            logger.error("rest channel: no reply within %.0f s; the turn goes on in the "
                         "background and the visitor got the phone number", self.reply_timeout)
            turn.add_done_callback(_log_failure)
            return response.json(collector.messages + self._reply(sender, "unavailable"))
        except Exception:
            logger.exception("rest channel: the turn failed; the visitor got the phone number")
            return response.json(self._reply(sender, "unavailable"))
        replies = merge_custom(collector.messages)
        if not replies:
            # Rasa logs a failed custom action and carries on silently; the visitor must not
            # be left without an answer.
            logger.error("rest channel: the bot said nothing (is the action server down?)")
            replies = self._reply(sender, "unavailable")
        if turn_was_not_saved(message_id):
            replies = replies + self._reply(sender, "not_saved")
        return response.json(replies)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("clinic_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            """"ok"; "degraded" while visitor turns wait to be written to the tracker store
            (stores/spooling_sql.py); 503 when no model could be loaded. No conversation data."""
            agent = request.app.ctx.agent
            if agent is None or not agent.is_ready():
                return response.json({"status": "no model loaded"}, 503)
            waiting = unsaved_conversations(request.app)
            return response.json({"status": "degraded" if waiting else "ok",
                                  "conversations_waiting_to_be_saved": waiting})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self._handle(on_new_message, request)

        return webhook
