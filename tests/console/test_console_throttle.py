"""Login throttling, rule by rule, in process against a real SQLite console database; and which
address a request is counted under (visitors/address.py). The same rules behind a real nginx:
tests/console/test_console_proxy.py."""
import ipaddress

import pytest

from console import auth
from visitors.address import client_address, parse_address, parse_trusted
from console.db import Databases, sqlite_url

T = 1_700_000_000.0  # a fixed "now": every failure below is recorded at a given time
A, B = "203.0.113.7", "198.51.100.9"


@pytest.fixture
def dbs(tmp_path):
    return Databases(sqlite_url(tmp_path / "no-tracker.db", read_only=True),
                     sqlite_url(tmp_path / "console.db"))


def fail(dbs, username, address, times, at=T):
    for _ in range(times):
        auth.record_failure(dbs, username, address, now=at)


def test_a_user_name_from_one_address_waits_after_five_failures(dbs):
    fail(dbs, "alice", A, 4)
    assert auth.wait_seconds(dbs, "alice", A, now=T) == 0
    fail(dbs, "alice", A, 1)
    assert auth.wait_seconds(dbs, "alice", A, now=T) == auth.BASE_DELAY == 30
    assert auth.wait_seconds(dbs, "alice", A, now=T + 10) == 20
    assert auth.wait_seconds(dbs, "alice", A, now=T + 30) == 0
    assert auth.wait_seconds(dbs, "ALICE", A, now=T) == 30  # user names ignore case


def test_the_same_name_from_elsewhere_and_other_names_from_there_do_not_wait(dbs):
    fail(dbs, "alice", A, 5)
    assert auth.wait_seconds(dbs, "alice", B, now=T) == 0  # alice at her desk
    assert auth.wait_seconds(dbs, "bob", A, now=T) == 0  # bob behind the same address


def test_the_wait_doubles_with_each_further_failure_up_to_the_window(dbs):
    fail(dbs, "alice", A, 5)
    waits = []
    for _ in range(6):
        fail(dbs, "alice", A, 1)
        waits.append(auth.wait_seconds(dbs, "alice", A, now=T))
    assert waits == [60, 120, 240, 480, 900, 900]
    assert auth.WINDOW == 900


def test_failures_older_than_the_window_no_longer_count(dbs):
    fail(dbs, "alice", A, 5, at=T - auth.WINDOW - 1)
    assert auth.wait_seconds(dbs, "alice", A, now=T) == 0
    fail(dbs, "alice", A, 4)
    assert auth.wait_seconds(dbs, "alice", A, now=T) == 0


def test_one_address_trying_many_user_names_waits_after_twenty_failures(dbs):
    for number in range(19):
        fail(dbs, f"name{number}", A, 1)
    assert auth.wait_seconds(dbs, "anyone", A, now=T) == 0
    fail(dbs, "name19", A, 1)
    assert auth.ADDRESS_FREE_FAILURES == 20
    assert auth.wait_seconds(dbs, "anyone", A, now=T) == 30  # a name never tried: the address
    assert auth.wait_seconds(dbs, "alice", A, now=T) == 30
    assert auth.wait_seconds(dbs, "alice", B, now=T) == 0
    fail(dbs, "name20", A, 1)
    assert auth.wait_seconds(dbs, "anyone", A, now=T) == 60


def test_a_successful_login_clears_its_pair_and_its_address_only(dbs):
    fail(dbs, "alice", A, 5)
    fail(dbs, "alice", B, 5)
    for number in range(14):
        fail(dbs, f"name{number}", A, 1)
    auth.clear_failures(dbs, "alice", A)
    assert auth.wait_seconds(dbs, "alice", A, now=T) == 0
    assert auth.wait_seconds(dbs, "alice", B, now=T) == 30  # alice from elsewhere: still counted
    # The address starts again from nothing: 19 more failures (as many names) do not hold it up.
    for number in range(19):
        fail(dbs, f"other{number}", A, 1)
    assert auth.wait_seconds(dbs, "someone", A, now=T) == 0
    with dbs.console.connect() as db:
        keys = {k for (k,) in db.exec_driver_sql("SELECT key FROM console_login_failures")}
    assert f"pair:{A} alice" not in keys and f"pair:{B} alice" in keys


def test_failure_counters_keep_the_name_and_address_apart(dbs):
    # A name with a space in it cannot pass for another address's pair.
    assert auth.throttle_keys("Bob Smith", A) == [(f"pair:{A} bob smith", 5), (f"ip:{A}", 20)]


# --- The client address -----------------------------------------------------------------------

PROXIES = parse_trusted("127.0.0.1, 10.0.0.0/8")


def test_trusted_proxies_are_addresses_or_networks():
    assert parse_trusted("") == () and parse_trusted(" , ") == ()
    assert PROXIES == (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))
    assert parse_trusted("::1") == (ipaddress.ip_network("::1/128"),)
    with pytest.raises(ValueError, match="CONSOLE_TRUSTED_PROXIES: 'proxy.local' is not"):
        parse_trusted("127.0.0.1,proxy.local")


@pytest.mark.parametrize("peer, forwarded, expected", [
    # Not from a trusted proxy: the header is never believed.
    ("203.0.113.7", ["127.0.0.3"], "203.0.113.7"),
    ("127.0.0.2", ["127.0.0.3"], "127.0.0.2"),
    # From the proxy: the address it saw, whatever the client wrote to its left.
    ("127.0.0.1", ["203.0.113.7"], "203.0.113.7"),
    ("127.0.0.1", ["198.51.100.1, 203.0.113.7"], "203.0.113.7"),
    ("127.0.0.1", ["198.51.100.1", "203.0.113.7"], "203.0.113.7"),  # two header lines
    # Through two trusted proxies: the first address that is not one.
    ("127.0.0.1", ["198.51.100.1, 203.0.113.7, 10.1.2.3"], "203.0.113.7"),
    # Only trusted hops: the farthest of them.
    ("127.0.0.1", ["10.1.2.3, 10.4.5.6"], "10.1.2.3"),
    # No header, or nothing usable at its right end: the proxy itself.
    ("127.0.0.1", [], "127.0.0.1"),
    ("127.0.0.1", ["203.0.113.7, not-an-address"], "127.0.0.1"),
    ("127.0.0.1", ["203.0.113.7, 10.1.2.3, unknown"], "127.0.0.1"),
    ("127.0.0.1", ["203.0.113.7,, "], "203.0.113.7"),
    # Ports and the IPv6 forms proxies write.
    ("127.0.0.1", ["203.0.113.7:50123"], "203.0.113.7"),
    ("127.0.0.1", ["[2001:db8::1]:443"], "2001:db8::1"),
    ("127.0.0.1", ["2001:db8::1"], "2001:db8::1"),
    ("::ffff:127.0.0.1", ["203.0.113.7"], "203.0.113.7"),
    ("::ffff:203.0.113.7", ["127.0.0.9"], "203.0.113.7"),
])
def test_the_client_address(peer, forwarded, expected):
    assert client_address(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_every_request_is_its_peer():
    assert client_address("127.0.0.1", ["203.0.113.7"], ()) == "127.0.0.1"
    assert client_address("", ["203.0.113.7"], PROXIES) == "unknown"


def test_address_parsing():
    assert str(parse_address(" 203.0.113.7 ")) == "203.0.113.7"
    assert parse_address("203.0.113.300") is None and parse_address("") is None
