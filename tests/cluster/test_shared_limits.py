"""Issue 13: the REST channel's visitor limits, shared by every replica through Redis
(visitors/limits.py SharedLimits), against a real redis-server on loopback."""
import logging
import secrets

import pytest
import redis

from clinic.content import load_content
from scripts.cluster import Redis
from scripts.serve import free_port
from tests.loopback import visitor
from visitors.limits import SharedLimits, shared_key

WINDOWS = {"sender": (3, 60), "address": (5, 60)}


@pytest.fixture
def server(tmp_path):
    running = Redis(tmp_path, free_port(), secrets.token_urlsafe(16), tmp_path / "redis.log")
    running.start()
    yield running
    running.stop()


def replica(server, prefix="test:limits"):
    """What one Rasa process holds: its own client and limits on the shared Redis."""
    client = redis.Redis(host="127.0.0.1", port=server.port, password=server.password,
                         socket_timeout=1, socket_connect_timeout=1)
    return SharedLimits(client, WINDOWS, prefix)


def test_replicas_count_one_visitor_together(server):
    first, second = replica(server), replica(server)
    sender = secrets.token_hex(8)
    answers = [(first if n % 2 else second).admit([("sender", sender), ("address", "a1")])
               for n in range(4)]
    assert answers == [True, True, True, False]
    # Another conversation from the same address has room left: 5 per address, 3 used.
    other = secrets.token_hex(8)
    assert [first.admit([("sender", other), ("address", "a1")]) for _ in range(3)] == [
        True, True, False]


def test_a_refused_message_counts_nowhere(server):
    limits = replica(server)
    for n in range(5):
        assert limits.admit([("sender", f"s{n}"), ("address", "busy")])
    assert not limits.admit([("sender", "fresh"), ("address", "busy")])
    # "fresh" was not counted by the refused message: it has all three of its places.
    assert [limits.admit([("sender", "fresh")]) for _ in range(4)] == [True, True, True, False]


def test_while_redis_is_down_each_replica_counts_on_its_own_then_shares_again(server, caplog):
    caplog.set_level(logging.WARNING, logger="visitors.limits")
    limits = replica(server)
    server.stop()
    assert [limits.admit([("sender", "s")]) for _ in range(4)] == [True, True, True, False]
    assert caplog.text.count("Redis is unreachable") == 1  # once per outage, not per message
    server.start()
    assert limits.admit([("sender", "s")])  # Redis has not seen "s": it starts from nothing
    assert "Redis is reachable again" in caplog.text


def test_every_replica_gets_the_same_address_key(server):
    first, second = replica(server), replica(server)
    key = shared_key(first.client, "test:address-key")
    assert len(key) == 16 and shared_key(second.client, "test:address-key") == key


def test_through_nginx_the_replicas_hold_a_visitor_to_one_limit(cluster):
    """30 messages a minute per conversation (credentials.yml) across both replicas: with each
    replica counting alone, nginx's round robin would let about 60 through."""
    sender = secrets.token_hex(16)
    statuses = []
    for number in range(32):  # a new address each time: only the per-conversation limit counts
        reply = visitor(f"127.0.1.{number + 1}").post(
            cluster.webhook, json={"sender": sender, "message": "does it hurt?"}, timeout=60)
        statuses.append(reply.status_code)
    assert statuses == [200] * 30 + [429] * 2
    assert reply.json()[0]["text"] == load_content().messages["rate_limited"]
