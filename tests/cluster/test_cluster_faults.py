"""Issue 13's faults on a cluster of its own (it kills things, so not the shared `cluster`
fixture's): bench/cluster.py's smoke fault scenario with real processes. Ten visitors talk
through nginx to two Rasa replicas while, in turn, replica 1 is SIGKILLed (and restarted as the
launcher restarts it), Redis is stopped and started again, the action server is stopped for a
few seconds, and PostgreSQL is stopped and started again. A message that got no answer, or a
502 from nginx, is sent again after a second, as the widget's "Try again" does.

Then: no acknowledged message is missing from PostgreSQL or stored twice; the replicas answer
again after the Redis and PostgreSQL restarts without being restarted themselves (same PIDs);
every reply while the action server is down carries the clinic's phone number."""
import shutil
import tempfile
from pathlib import Path

import pytest

from bench import cluster as bench_cluster
from bench.cluster import ACTIONS, KILL, POSTGRES, REDIS
from clinic.content import load_content


@pytest.fixture(scope="module")
def scenario():
    """The scenario's results; its cluster is stopped before the checks. VAR_DIR is made under
    /tmp: as root, PostgreSQL runs as the postgres user, which must reach its data."""
    var = Path(tempfile.mkdtemp(prefix="clinic-cluster-faults-"))
    try:
        with bench_cluster.started_cluster(var, print) as cluster:
            results = bench_cluster.fault_scenario(cluster, "smoke", print)
        yield results
    finally:
        shutil.rmtree(var, ignore_errors=True)


def fault(results, name):
    return next(f for f in results["faults"] if f["fault"] == name)


def problems(results, name):
    return results["by_fault"].get(name, {})


def test_the_load_went_on_through_every_fault(scenario):
    assert scenario["sent"] >= 200
    for name in (KILL, REDIS, ACTIONS, POSTGRES):
        assert fault(scenario, name)["requests_during"] > 0, name


def test_a_killed_replica_loses_no_acknowledged_message(scenario):
    killed = fault(scenario, KILL)
    assert killed["restart_s"] is not None, "the killed replica did not come back"
    assert killed["new_pid"] not in (None, killed["killed_pid"])
    assert problems(scenario, KILL).get("lost", 0) == 0, scenario["lost_or_duplicated_examples"]
    assert problems(scenario, KILL).get("duplicated", 0) == 0, \
        scenario["lost_or_duplicated_examples"]


def test_the_replicas_reconnect_to_redis_and_postgresql_without_a_restart(scenario):
    killed = fault(scenario, KILL)
    for name in (REDIS, POSTGRES):
        for replica in fault(scenario, name)["replicas"]:
            assert replica["same_pid"], f"{name}: replica {replica['replica']} was restarted"
            assert replica["answered_again_s"] is not None, \
                f"{name}: replica {replica['replica']} never answered normally again"
    before, after = scenario["pids"]["before"], scenario["pids"]["after"]
    assert after["rasa-2"] == before["rasa-2"]  # never killed, never restarted
    assert after["rasa-1"] == killed["new_pid"]  # restarted once, after its kill only
    assert after["redis"] != before["redis"] and after["postgres"] != before["postgres"]


def test_visitors_get_the_phone_number_while_the_action_server_is_down(scenario):
    outage = scenario["action_outage"]
    assert outage["replies"] > 0, "no visitor message was answered during the outage"
    assert outage["with_phone_number"] == outage["replies"], load_content().clinic.phone


def test_no_message_is_lost_or_stored_twice_in_any_fault(scenario):
    """Every acknowledged message is in PostgreSQL exactly once, whatever the fault, and every
    turn a replica kept is written in the end. During the PostgreSQL restart a replica that
    cannot read a conversation goes on with a fresh one (Rasa's wrapper); its turns must still
    be written (stores/spooling_sql.py), not dropped for being fewer than those stored."""
    assert scenario["spool_drained"]
    assert scenario["duplicated"] == 0, scenario["lost_or_duplicated_examples"]
    lost = {name: found for name, found in scenario["by_fault"].items() if found.get("lost")}
    assert not lost, scenario["lost_or_duplicated_examples"]
