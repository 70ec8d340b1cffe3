"""deploy/: what an operator installs, checked as far as this machine can: nginx's configuration
with `nginx -t` and then for real in front of the cluster's replicas (HTTPS with a throwaway
certificate), the systemd units with `systemd-analyze verify`, the Compose file and the
endpoints parsed and held to the topology (there is no Docker here to run them)."""
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import urllib3
import yaml

from scripts.serve import ROOT, free_port

DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SERVICES = {"postgres", "redis", "actions", "rasa-1", "rasa-2", "console", "nginx"}


def env_example() -> dict:
    pairs = (line.split("=", 1) for line in
             (DEPLOY / "clinic.env.example").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#"))
    return {name: value for name, value in pairs}


def nginx_site(workdir: Path, upstream: str, listen=None) -> Path:
    """deploy/nginx/clinic-assistant.conf with its paths in `workdir` (a throwaway certificate,
    the widget from this checkout), inside a minimal nginx.conf."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=chat.example.org", "-keyout", str(workdir / "privkey.pem"),
                    "-out", str(workdir / "fullchain.pem")], check=True, capture_output=True)
    (workdir / "upstream.conf").write_text(upstream, encoding="utf-8")
    site = (DEPLOY / "nginx" / "clinic-assistant.conf").read_text(encoding="utf-8")
    site = (site.replace("/etc/nginx/clinic-assistant/upstream.conf", str(workdir / "upstream.conf"))
            .replace("/etc/nginx/clinic-assistant/tls/", f"{workdir}/")
            .replace("/opt/clinic-assistant/", f"{ROOT}/"))
    if listen:
        site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
        site = re.sub(r"listen 80;", f"listen 127.0.0.1:{listen[80]};", site)
        site = re.sub(r"listen 443 ssl http2;", f"listen 127.0.0.1:{listen[443]} ssl http2;", site)
    (workdir / "site.conf").write_text(site, encoding="utf-8")
    # As root, workers as root too: the checkout's widget files need not be world-readable.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = workdir / "nginx.conf"
    conf.write_text(f"daemon off;\npid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\n"
                    f"{user}\nevents {{}}\nhttp {{\n  include {workdir}/site.conf;\n}}\n",
                    encoding="utf-8")
    return conf


@pytest.mark.parametrize("upstream", ["upstream.conf", "upstream.compose.conf"])
def test_the_nginx_configuration_is_valid(upstream, tmp_path):
    text = (DEPLOY / "nginx" / upstream).read_text(encoding="utf-8")
    # The Compose names resolve only inside Compose's network.
    text = re.sub(r"server (rasa-\d+|console):(\d+)", r"server 127.0.0.1:\2", text)
    conf = nginx_site(tmp_path, text)
    done = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf),
                           "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_nginx_as_deployed_serves_the_chat_and_the_widget_only(cluster, tmp_path):
    """The deploy configuration, run for real on loopback in front of the cluster's replicas."""
    urllib3.disable_warnings()
    ports = {80: free_port(), 443: free_port()}
    upstream = ("upstream clinic_rasa {\n" + "".join(
        f"  server 127.0.0.1:{port};\n" for port in cluster.replica_ports) + "}\n"
        f"upstream clinic_console {{ server 127.0.0.1:{cluster.console_port}; }}\n")
    conf = nginx_site(tmp_path, upstream, listen=ports)
    process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf),
                                "-e", str(tmp_path / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"https://127.0.0.1:{ports[443]}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/webhooks/rest/", verify=False, timeout=2)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("nginx did not start: " + (tmp_path / "error.log").read_text())
                time.sleep(0.1)
        health = requests.get(base + "/webhooks/rest/", verify=False, timeout=10)
        assert health.json()["status"] == "ok"
        assert health.headers["Strict-Transport-Security"].startswith("max-age=")
        reply = requests.post(base + "/webhooks/rest/webhook", verify=False, timeout=60,
                              json={"sender": os.urandom(16).hex(), "message": "hello"})
        assert reply.status_code == 200 and reply.json()
        widget = requests.get(base + "/widget/clinic-chat.js", verify=False, timeout=10)
        assert widget.status_code == 200
        assert widget.headers["Content-Type"].startswith("text/javascript")
        assert widget.text == (ROOT / "web" / "widget" / "clinic-chat.js").read_text()
        for path in ("/model/parse", "/conversations/x/tracker", "/widget/../credentials.yml",
                     "/", "/status"):
            assert requests.get(base + path, verify=False, timeout=10,
                                params={"token": cluster.api_token}).status_code == 404, path
        plain = requests.get(f"http://127.0.0.1:{ports[80]}/webhooks/rest/webhook",
                             allow_redirects=False, timeout=10)
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
        # The console's name answers the clinic's own networks only, not this address.
        console = requests.get(base + "/login", verify=False, timeout=10,
                               headers={"Host": "console.example.org"})
        assert console.status_code in (403, 404)
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(timeout=15)


def test_the_systemd_units_verify(tmp_path):
    verify = shutil.which("systemd-analyze")
    if verify is None:
        pytest.skip("systemd-analyze is not installed")
    env = tmp_path / "clinic.env"
    shutil.copy(DEPLOY / "clinic.env.example", env)
    units = []
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        text = (unit.read_text(encoding="utf-8").replace("/opt/clinic-assistant", str(ROOT))
                .replace("/etc/clinic-assistant/clinic.env", str(env)))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
        units.append(tmp_path / unit.name)
    # A template is verified through an instance of it.
    shutil.copy(tmp_path / "clinic-rasa@.service", tmp_path / "clinic-rasa@5006.service")
    units = [u for u in units if u.name != "clinic-rasa@.service"]
    units.append(tmp_path / "clinic-rasa@5006.service")
    done = subprocess.run([verify, "verify", "--man=no", *map(str, units)], capture_output=True,
                          text=True, env=dict(os.environ, SYSTEMD_LOG_LEVEL="info"))
    assert done.returncode == 0, done.stderr
    assert "Unknown" not in done.stderr and "Failed" not in done.stderr, done.stderr
    # Every ${VAR} the units use is in the environment file's template.
    used = set()
    for unit in (DEPLOY / "systemd").iterdir():
        used |= set(re.findall(r"\$\{(\w+)\}", unit.read_text(encoding="utf-8")))
    assert used <= set(env_example())
    # The target's replicas are the ports nginx's upstream lists.
    target = (DEPLOY / "systemd" / "clinic-assistant.target").read_text(encoding="utf-8")
    upstream = (DEPLOY / "nginx" / "upstream.conf").read_text(encoding="utf-8")
    replicas = re.findall(r"clinic-rasa@(\d+)\.service", target)
    assert replicas and replicas == re.findall(r"server 127\.0\.0\.1:(\d+) max_fails", upstream)


def test_the_compose_file_has_the_cluster_topology():
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == SERVICES
    assert [name for name, s in services.items() if "ports" in s] == ["nginx"]
    for name in ("actions", "rasa-1", "rasa-2", "console"):
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["env_file"] == "clinic.env"
    for name in ("postgres", "redis", "rasa-1", "rasa-2"):
        assert "healthcheck" in services[name], name
    nginx_address = services["nginx"]["networks"]["backend"]["ipv4_address"]
    spools = set()
    for name in ("rasa-1", "rasa-2"):
        rasa = services[name]
        command = " ".join(rasa["command"])
        assert "--endpoints deploy/endpoints.yml" in command and "--interface 0.0.0.0" in command
        assert rasa["environment"]["TRACKER_DB_HOST"] == "postgres"
        assert rasa["environment"]["REDIS_HOST"] == "redis"
        assert rasa["environment"]["CHAT_TRUSTED_PROXIES"] == nginx_address
        assert set(rasa["depends_on"]) == {"postgres", "redis", "actions"}
        spools |= set(rasa["volumes"])
    assert len(spools) == 2  # each replica its own spool volume
    upstream = (DEPLOY / "nginx" / "upstream.compose.conf").read_text(encoding="utf-8")
    assert sorted(re.findall(r"server (rasa-\d+):5005", upstream)) == ["rasa-1", "rasa-2"]
    assert services["console"]["environment"]["CONSOLE_TRUSTED_PROXIES"] == nginx_address
    # Every file it mounts is in the repository (the TLS directory is the operator's).
    for volume in services["nginx"]["volumes"]:
        source = volume.split(":")[0]
        if not source.endswith("/tls"):
            assert (DEPLOY / source).exists(), source
    # No secret in the file: passwords and tokens come from clinic.env only.
    text = (DEPLOY / "compose.yml").read_text(encoding="utf-8")
    assert not re.search(r"(PASSWORD|TOKEN)\s*:", text)
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("#") and "FROM python:3.10" in dockerfile
    assert "--no-deps -r requirements.lock" in dockerfile and "\nUSER clinic" in dockerfile


def test_the_cluster_endpoints_load_our_lock_store(monkeypatch):
    """deploy/endpoints.yml as Rasa reads it: every ${VAR} filled from the environment (all of
    them in clinic.env.example, whose secrets are placeholders), the lock store our atomic one."""
    from rasa.shared.utils.common import class_from_module_path
    from rasa.utils.endpoints import read_endpoint_config

    names = set(re.findall(r"\$\{(\w+)\}", (DEPLOY / "endpoints.yml").read_text()))
    assert names <= set(env_example())
    for name in names:
        monkeypatch.setenv(name, "6379" if name.endswith("_PORT") else f"value-of-{name}")
    lock = read_endpoint_config(str(DEPLOY / "endpoints.yml"), "lock_store")
    tracker = read_endpoint_config(str(DEPLOY / "endpoints.yml"), "tracker_store")
    from stores.redis_lock import AtomicRedisLockStore

    assert class_from_module_path(lock.type) is AtomicRedisLockStore
    assert lock.url == "value-of-REDIS_HOST" and lock.kwargs["password"] == "value-of-REDIS_PASSWORD"
    assert tracker.kwargs["dialect"] == "postgresql"
    assert tracker.kwargs["password"] == "value-of-TRACKER_DB_PASSWORD"
    assert all(v == "change-me" for k, v in env_example().items()
               if k.endswith(("PASSWORD", "TOKEN")))
