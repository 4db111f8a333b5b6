"""Health checks (homelab_check_service_health, homelab_check_all_services)
against servers this test starts on 127.0.0.1: 200, 500, slow, a closed
port, a TCP-only port, a self-signed TLS server with and without its CA file
(and marked insecure); many slow services checked at once."""
import http.server
import socket
import ssl
import subprocess
import threading
import time

import pytest

import homelab


class Server:
    """A threaded HTTP(S) server answering status after delay_s."""

    def __init__(self, status=200, delay_s=0.0, tls=None):
        outer = self
        self.hits = 0
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with outer.lock:
                    outer.hits += 1
                time.sleep(delay_s)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        class Srv(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64

            def handle_error(self, request, client_address):
                pass  # a client that refused our certificate

        self.httpd = Srv(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    started = []

    def start(*a, **kw):
        s = Server(*a, **kw)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the openssl command line."""
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem"), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return str(d / "cert.pem"), str(d / "key.pem")


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_http_outcomes(cli, hl, servers):
    ok, bad, slow = servers(200), servers(500), servers(200, delay_s=0.5)
    cli.ok("services", "add", "a-ok", "--url", ok.url, "--health", "/health")
    cli.ok("services", "add", "b-bad", "--url", bad.url)
    cli.ok("services", "add", "c-slow", "--url", slow.url)
    cli.ok("services", "add", "d-closed", "--url", f"http://127.0.0.1:{closed_port()}")
    cli.ok("services", "add", "e-timeout", "--url", servers(200, delay_s=5).url)
    r = hl.check_all_services(timeout_s=2)
    by = {s["service_name"]: s for s in r["services"] if s["service_name"] != "ollama"}
    assert [s["service_name"] for s in r["services"]] == ["a-ok", "b-bad", "c-slow", "d-closed", "e-timeout", "ollama"]
    assert (by["a-ok"]["status"], by["a-ok"]["http_status"], by["a-ok"]["check"]) == ("healthy", 200, "http")
    assert (by["b-bad"]["status"], by["b-bad"]["error"]) == ("unhealthy", "HTTP status 500")
    assert by["c-slow"]["status"] == "healthy" and by["c-slow"]["response_time_ms"] >= 500
    assert by["d-closed"]["status"] == "unreachable" and "onnect" in by["d-closed"]["error"]
    assert by["e-timeout"]["status"] == "unreachable" and "imed out" in by["e-timeout"]["error"]
    assert "tls" not in by["a-ok"]


def test_self_signed_tls(cli, hl, servers, cert):
    srv = servers(200, tls=cert)
    cli.ok("services", "add", "secure", "--url", srv.url)
    r = hl.check_service_health(name="secure")
    assert r["status"] == "unreachable" and "certificate" in r["error"], r
    assert r["tls"] == {"verify": True, "ca_file": None}
    # with its CA file: verified
    cli.ok("services", "set", "secure", "--ca-file", cert[0])
    r = hl.check_service_health(name="secure")
    assert r["status"] == "healthy" and r["http_status"] == 200, r
    assert r["tls"] == {"verify": True, "ca_file": cert[0]}
    # explicitly insecure: not verified, and the result says so
    cli.ok("services", "set", "secure", "--insecure")
    r = hl.check_all_services()["services"]
    s = next(x for x in r if x["service_name"] == "secure")
    assert s["status"] == "healthy" and s["tls"] == {"verify": False, "ca_file": None}
    # back to the system's CAs
    cli.ok("services", "set", "secure", "--verify")
    assert hl.check_service_health(name="secure")["status"] == "unreachable"
    assert srv.hits == 2


def test_tls_settings_are_checked(cli, cert, tmp_path):
    cli.ok("services", "add", "secure", "--url", "https://127.0.0.1:1")
    r = cli("services", "set", "secure", "--ca-file", cert[0], "--insecure")
    assert r.rc == 2 and "give one of --ca-file, --insecure, --verify" in r.err
    r = cli("services", "set", "secure", "--ca-file", str(tmp_path / "missing.pem"))
    assert r.rc == 2 and "missing.pem" in r.err
    with homelab.Homelab(cli.db) as hl:
        with pytest.raises(homelab.NotFoundError):
            hl.check_service_health(name="nosuch")


def test_tcp_connect_check(cli, hl, servers):
    srv = servers(200)
    # whisper is 127.0.0.1
    cli.ok("services", "add", "mqtt", "--vm", "whisper", "--port", srv.port)
    cli.ok("services", "add", "db", "--vm", "whisper", "--port", closed_port())
    r = {s["service_name"]: s for s in hl.check_all_services()["services"]}
    assert r["mqtt"]["check"] == "tcp" and r["mqtt"]["status"] == "healthy" and r["mqtt"]["http_status"] is None
    assert r["mqtt"]["url"] == f"tcp://127.0.0.1:{srv.port}"
    assert r["db"]["check"] == "tcp" and r["db"]["status"] == "unreachable"
    assert srv.hits == 0  # connected, sent nothing


def test_many_slow_services_take_about_as_long_as_one(cli, hl, servers, monkeypatch):
    slow = servers(200, delay_s=1.0)
    cli.ok("services", "add", "slow-one", "--url", slow.url)
    t = time.monotonic()
    assert hl.check_service_health(name="slow-one")["status"] == "healthy"
    one = time.monotonic() - t
    for i in range(19):
        cli.ok("services", "add", f"slow{i:02d}", "--url", slow.url)
    took = {}
    for parallel in ("16", "32"):
        monkeypatch.setenv("HOMELAB_HEALTH_PARALLEL", parallel)
        seen = []
        t = time.monotonic()
        r = hl.check_all_services(timeout_s=10, progress=seen.append)
        took[parallel] = time.monotonic() - t
        assert r["healthy"] == 21 and r["count"] == 21  # 20 slow, and the double
        names = [s["service_name"] for s in r["services"]]
        assert names == sorted(names, key=str.lower)
        # a report each time the answered prefix grows: the next one waited for
        assert seen == [homelab.Progress(f"checking {n}", float(i), 21.0) for i, n in enumerate(names)]
    print(f"one slow service (1 s): {one:.2f} s; 20 slow + 1 fast, 16 at once: {took['16']:.2f} s; "
          f"32 at once: {took['32']:.2f} s")
    # one after the other would take 20 s; loose bounds for a loaded machine
    assert took["32"] < 5 * one, (one, took)      # all at once: about the time of one (1 s measured)
    assert took["16"] < 10 * one, (one, took)     # 16 at once: two rounds (2 s measured)
    assert slow.hits == 1 + 2 * 20


def test_sixteen_at_once_by_default(cli, hl, servers, monkeypatch):
    """HOMELAB_HEALTH_PARALLEL unset: 16 probes at once (one after the other,
    16 services of 0.5 s would take 8 s)."""
    monkeypatch.delenv("HOMELAB_HEALTH_PARALLEL", raising=False)
    slow = servers(200, delay_s=0.5)
    for i in range(16):
        cli.ok("services", "add", f"slow{i:02d}", "--url", slow.url)
    t = time.monotonic()
    assert hl.check_all_services(timeout_s=10)["healthy"] == 17  # and the double
    took = time.monotonic() - t
    print(f"16 services of 0.5 s, default parallelism: {took:.2f} s")
    assert took < 4.0, took
