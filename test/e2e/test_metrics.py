"""--metrics: Prometheus text on GET /metrics, scraped during and after a real transfer through
tunnel-service; 404 elsewhere; a port in use or a bad address is a usage error (exit 2) before
the first handshake."""
import http.client
import http.server
import json
import os
import re
import socket
import threading
import time
import unittest

from harness import FAST_SETTINGS, Harness, LOCALPROXY, Proc, free_port, free_ports

LINE_RX = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? (\S+)$')


def scrape(port, path="/metrics"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Content-Type"), body


def parse(text):
    """{(name, frozenset of label pairs): value} from the exposition text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE_RX.match(line)
        assert m, f"not an exposition line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(values, name, **labels):
    return values.get((name, frozenset(labels.items())))


def recv_exactly(s, n, timeout=30.0):
    s.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        b = s.recv(min(262144, n - len(out)))
        if not b:
            break
        out.extend(b)
    return bytes(out)


class Metrics(Harness):
    def wait_metrics(self, port, pred, timeout=15.0):
        """Scrapes until pred(values) holds; returns the last values."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, _, body = scrape(port)
            except ConnectionRefusedError:  # the process is still starting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            self.assertEqual(status, 200)
            values = parse(body)
            if pred(values) or time.monotonic() > deadline:
                return values
            time.sleep(0.1)

    def test_counters_follow_a_transfer(self):
        self.start_service()
        echo = self.echo_server()
        src_metrics, dst_metrics = free_ports(2)
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"],
                                          src_extra=["--metrics", f"127.0.0.1:{src_metrics}"],
                                          dst_extra=["--metrics", str(dst_metrics)])
        src.wait_for(r"Serving metrics on http://127\.0\.0\.1:\d+/metrics")
        for port in (src_metrics, dst_metrics):
            v = self.wait_metrics(port, lambda v: metric(v, "localproxy_connected") == 1)
            self.assertEqual(metric(v, "localproxy_connected"), 1)
            self.assertEqual(metric(v, "localproxy_reconnects_total"), 0)
            self.assertEqual(metric(v, "localproxy_connections_opened_total", service="SSH"), 0)
            self.assertGreater(metric(v, "localproxy_buffer_limit_bytes"), 0)

        half = 700000
        data = os.urandom(2 * half)
        s = socket.create_connection(("127.0.0.1", ports[0]), timeout=30)
        s.sendall(data[:half])
        self.assertEqual(recv_exactly(s, half), data[:half])
        # During the transfer: the connection is open and the bytes so far are counted.
        for port in (src_metrics, dst_metrics):
            v = self.wait_metrics(port, lambda v: metric(v, "localproxy_bytes_total", service="SSH",
                                                         direction="from_tunnel") == half)
            self.assertEqual(metric(v, "localproxy_connections_active", service="SSH"), 1)
            self.assertEqual(metric(v, "localproxy_connections_opened_total", service="SSH"), 1)
            self.assertEqual(metric(v, "localproxy_bytes_total", service="SSH", direction="to_tunnel"), half)
            self.assertEqual(metric(v, "localproxy_bytes_total", service="SSH", direction="from_tunnel"), half)
        s.sendall(data[half:])
        self.assertEqual(recv_exactly(s, half), data[half:])
        s.close()

        t = socket.create_connection(("127.0.0.1", ports[0]), timeout=30)
        t.sendall(b"x" * 1000)
        self.assertEqual(recv_exactly(t, 1000), b"x" * 1000)
        t.close()
        total = 2 * half + 1000
        for port in (src_metrics, dst_metrics):
            # Buffers of a closed connection go back to the budget once its last write is done.
            v = self.wait_metrics(port, lambda v: metric(v, "localproxy_connections_active", service="SSH") == 0 and
                                  metric(v, "localproxy_bytes_total", service="SSH", direction="to_tunnel") == total
                                  and metric(v, "localproxy_buffered_bytes") == 0)
            self.assertEqual(metric(v, "localproxy_connections_active", service="SSH"), 0)
            self.assertEqual(metric(v, "localproxy_connections_opened_total", service="SSH"), 2)
            self.assertEqual(metric(v, "localproxy_connections_refused_total", service="SSH"), 0)
            self.assertEqual(metric(v, "localproxy_bytes_total", service="SSH", direction="to_tunnel"), total)
            self.assertEqual(metric(v, "localproxy_bytes_total", service="SSH", direction="from_tunnel"), total)
            self.assertEqual(metric(v, "localproxy_connected"), 1)
            self.assertEqual(metric(v, "localproxy_buffered_bytes"), 0)
        # Pings run every second in the tests: an RTT comes once the first pong did.
        v = self.wait_metrics(src_metrics, lambda v: metric(v, "localproxy_rtt_seconds") is not None)
        self.assertGreater(metric(v, "localproxy_rtt_seconds"), 0)

    def test_reconnects_are_counted(self):
        self.start_service()
        echo = self.echo_server()
        port = free_port()
        src, dst, ports = self.start_pair(str(echo.port), str(free_port()), [],
                                          src_extra=["--metrics", str(port)])
        self.wait_metrics(port, lambda v: metric(v, "localproxy_connected") == 1)
        # The service drops the source's WebSocket: it reconnects with its client token.
        status, _ = self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/drop?side=source")
        self.assertEqual(status, 200)
        v = self.wait_metrics(port, lambda v: metric(v, "localproxy_reconnects_total") == 1 and
                              metric(v, "localproxy_connected") == 1)
        self.assertEqual(metric(v, "localproxy_reconnects_total"), 1, src.tail())
        self.assertEqual(metric(v, "localproxy_connected"), 1)

    def test_handshake_failures_are_counted_by_status(self):
        # A "service" that answers every WebSocket upgrade with 503 (retried), then one that is gone.
        class Busy(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        busy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
        threading.Thread(target=busy.serve_forever, daemon=True).start()
        try:
            port = free_port()
            p = self.start_proxy_raw(["-s", str(free_port()), "-e", f"ws://127.0.0.1:{busy.server_address[1]}",
                                      "--metrics", str(port)])
            v = self.wait_metrics(port, lambda v: (metric(v, "localproxy_handshake_failures_total", status="503")
                                                   or 0) >= 2)
            self.assertGreaterEqual(metric(v, "localproxy_handshake_failures_total", status="503"), 2, p.tail())
            self.assertEqual(metric(v, "localproxy_connected"), 0)
            self.assertEqual(metric(v, "localproxy_reconnects_total"), 0)
        finally:
            busy.shutdown()
            busy.server_close()
        closed = free_port()
        port = free_port()
        p = self.start_proxy_raw(["-s", str(free_port()), "-e", f"ws://127.0.0.1:{closed}", "--metrics", str(port)])
        v = self.wait_metrics(port, lambda v: (metric(v, "localproxy_handshake_failures_total", status="0") or 0) >= 1)
        self.assertGreaterEqual(metric(v, "localproxy_handshake_failures_total", status="0"), 1, p.tail())

    def start_proxy_raw(self, args):
        settings = os.path.join(self.dir, f"settings-{len(self.procs)}.json")
        with open(settings, "w") as f:
            json.dump(FAST_SETTINGS, f)
        p = Proc(f"source-{len(self.procs)}", [LOCALPROXY] + args + ["--settings-json", settings, "-v", "5"], self.dir,
                 env={"AWSIOT_TUNNEL_ACCESS_TOKEN": "token"})
        self.procs.append(p)
        return p

    def test_other_paths_get_404(self):
        self.start_service()
        echo = self.echo_server()
        port = free_port()
        self.start_pair(str(echo.port), str(free_port()), [], src_extra=["--metrics", f"127.0.0.1:{port}"])
        status, _, body = scrape(port, "/")
        self.assertEqual(status, 404)
        status, _, _ = scrape(port, "/metricsx")
        self.assertEqual(status, 404)
        status, content_type, body = scrape(port, "/metrics?x=1")
        self.assertEqual(status, 200)
        self.assertTrue(content_type.startswith("text/plain; version=0.0.4"), content_type)
        self.assertIn("# TYPE localproxy_bytes_total counter", body)
        # A request larger than the limit is not served: the connection is closed.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.settimeout(10)
            try:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
                answer = s.recv(100)
            except (ConnectionResetError, BrokenPipeError):  # closed while we were still sending
                answer = b""
            self.assertFalse(answer.startswith(b"HTTP/1.1 200"), answer)

    def assert_usage_error(self, metrics_arg, message_rx):
        self.start_service()
        t = self.open_tunnel([])
        p = self.start_proxy("source", ["-s", str(free_port())], t["sourceAccessToken"],
                             extra=["--metrics", metrics_arg])
        self.assertEqual(p.wait_exit(15), 2, p.tail())
        self.assertRegex(p.text(), message_rx)
        self.assertNotIn("source connected", self.service.text())  # the access token is unused

    def test_port_in_use_is_a_usage_error(self):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        try:
            port = holder.getsockname()[1]
            self.assert_usage_error(f"127.0.0.1:{port}",
                                    rf"--metrics 127\.0\.0\.1:{port}: cannot listen: Address already in use")
        finally:
            holder.close()

    def test_bad_address_is_a_usage_error(self):
        self.assert_usage_error("no-such-host.invalid:9100", r"--metrics no-such-host\.invalid:9100: cannot resolve")

    def test_bad_port_is_a_usage_error(self):
        self.assert_usage_error("127.0.0.1:99999", r"--metrics")


if __name__ == "__main__":
    unittest.main()
