"""End-to-end test harness: real tunnel-service and localproxy processes on loopback.

Every process is started by a Harness, logs to its own file, and is stopped by PID when the
test ends. Every wait has a deadline.
"""
import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

BIN = os.environ.get("LOCALPROXY_BIN_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin"))
LOCALPROXY = os.path.join(BIN, "localproxy")
TUNNEL_SERVICE = os.path.join(BIN, "tunnel-service")

FAST_SETTINGS = {
    "tunneling": {"proxy": {
        "tcp": {"connection_retry_count": 1, "connection_retry_delay_ms": 100},
        "websocket": {"retry_delay_ms": 200, "retry_delay_max_ms": 1000, "ping_period_ms": 1000},
    }}
}


def deep_merge(base, extra):
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class Proc:
    """A child process whose stdout+stderr go to a log file."""

    def __init__(self, name, args, workdir, env=None):
        self.name = name
        self.args = args
        self.log_path = os.path.join(workdir, name + ".log")
        self._log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.p = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  env=full_env, cwd=workdir)
        self.pid = self.p.pid
        self.peak_rss_kib = 0
        self.peak_anon_kib = 0  # the process's own memory (heap, stacks), without shared library pages

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for(self, pattern, timeout=15.0, after=0):
        """Waits until the log matches pattern (searching from offset `after`); returns the match."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            m = rx.search(self.text(), after)
            if m:
                return m
            if self.p.poll() is not None:
                m = rx.search(self.text(), after)
                if m:
                    return m
                raise AssertionError(f"{self.name} exited ({self.p.returncode}) before /{pattern}/:\n{self.tail()}")
            time.sleep(0.02)
        raise AssertionError(f"{self.name}: no /{pattern}/ within {timeout}s:\n{self.tail()}")

    def tail(self, n=40):
        return "\n".join(self.text().splitlines()[-n:])

    def sample_rss(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))
                    elif line.startswith("RssAnon:"):
                        self.peak_anon_kib = max(self.peak_anon_kib, int(line.split()[1]))
        except OSError:
            pass
        return self.peak_rss_kib

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick

    def running(self):
        return self.p.poll() is None

    def wait_exit(self, timeout=10.0):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout}s:\n{self.tail()}")

    def signal(self, sig):
        if self.p.poll() is None:
            os.kill(self.pid, sig)

    def stop(self):
        if self.p.poll() is None:
            self.sample_rss()
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(timeout=3)
        self._log.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EchoServer:
    """A TCP (or Unix socket) server; each connection is echoed (default) or handled by `handler`."""

    def __init__(self, unix_path=None, handler=None):
        self.handler = handler or self.echo
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.port = unix_path
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(128)
        self.accepted = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def echo(conn):
        while True:
            data = conn.recv(262144)
            if not data:
                break
            conn.sendall(data)

    def _serve(self, conn):
        with contextlib.suppress(OSError):
            with conn:
                self.handler(conn)

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def close(self):
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def echo_roundtrip(port, data, timeout=60.0, host="127.0.0.1", chunk=65536):
    """Sends data through the tunnel to an echo server while reading the echo back; returns it."""
    s = socket.create_connection((host, port), timeout=timeout)
    received = bytearray()
    errors = []

    def reader():
        try:
            while len(received) < len(data):
                b = s.recv(262144)
                if not b:
                    break
                received.extend(b)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    view = memoryview(data)
    for i in range(0, len(data), chunk):
        s.sendall(view[i:i + chunk])
    t.join(timeout)
    s.close()
    if errors:
        raise errors[0]
    return bytes(received)


class Harness(unittest.TestCase):
    """Base class: a temp dir, a tunnel-service, and helpers to start proxies."""

    maxDiff = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lp-e2e-")
        self.procs = []
        self.servers = []

    def tearDown(self):
        for p in reversed(self.procs):
            p.stop()
        for s in self.servers:
            s.close()
        if os.environ.get("LP_E2E_KEEP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the service -------------------------------------------------------------------------
    def start_service(self, tunnels=(), plain=False, extra=()):
        args = [TUNNEL_SERVICE, "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "-v", "5"]
        args += ["--plain"] if plain else ["--self-signed", os.path.join(self.dir, "certs")]
        for t in tunnels:
            args += ["--tunnel", t]
        args += list(extra)
        svc = Proc("tunnel-service", args, self.dir)
        self.procs.append(svc)
        m = svc.wait_for(r"tunnel-service listening on (wss?)://[^:\s]+:(\d+)")
        self.service_scheme, self.service_port = m.group(1), int(m.group(2))
        self.api_port = int(svc.wait_for(r"api on http://[^:\s]+:(\d+)").group(1))
        self.service = svc
        return svc

    def api(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=10)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, (json.loads(data) if data.strip().startswith(b"{") else data)

    def open_tunnel(self, services):
        status, body = self.api("POST", "/tunnels", {"services": list(services)})
        self.assertEqual(status, 200, body)
        return body

    # ---- proxies -------------------------------------------------------------------------------
    def settings_file(self, extra=None):
        path = os.path.join(self.dir, f"settings-{len(self.procs)}.json")
        with open(path, "w") as f:
            json.dump(deep_merge(FAST_SETTINGS, extra or {}), f)
        return path

    def endpoint_args(self):
        if self.service_scheme == "ws":
            return ["-e", f"ws://127.0.0.1:{self.service_port}"]
        return ["-e", f"localhost:{self.service_port}", "-c", os.path.join(self.dir, "certs", "ca")]

    def start_proxy(self, name, mode_args, token, settings=None, extra=(), verbose="5", env=None):
        args = [LOCALPROXY] + list(mode_args) + self.endpoint_args()
        args += ["--settings-json", self.settings_file(settings), "-v", verbose] + list(extra)
        full_env = {"AWSIOT_TUNNEL_ACCESS_TOKEN": token}
        full_env.update(env or {})
        p = Proc(name, args, self.dir, env=full_env)
        self.procs.append(p)
        return p

    def start_pair(self, services_dst, services_src, tunnel_services, settings=None, src_extra=(), dst_extra=(),
                   verbose="5"):
        """Opens a tunnel and starts a destination then a source; returns (src, dst, {service: port})."""
        t = self.open_tunnel(tunnel_services)
        dst = self.start_proxy("destination", ["-d", services_dst], t["destinationAccessToken"], settings, dst_extra,
                               verbose)
        dst.wait_for(r"Successfully established websocket connection")
        src = self.start_proxy("source", ["-s", services_src], t["sourceAccessToken"], settings, src_extra, verbose)
        ports = self.wait_listening(src, len(tunnel_services) or 1)
        self.tunnel = t
        return src, dst, ports

    def wait_listening(self, src, count, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.findall(r"Listening for new connection on port (\d+)", src.text())
            if len(found) >= count:
                return [int(p) for p in found]
            if not src.running():
                break
            time.sleep(0.02)
        raise AssertionError(f"source did not listen on {count} port(s):\n{src.tail()}")

    def assert_echo_recovers(self, port, size=100000, within=10.0):
        """After a reconnect the listener may briefly hand clients to a tunnel that is not back yet:
        retries an echo round trip until it succeeds or `within` seconds pass."""
        data = os.urandom(size)
        deadline = time.monotonic() + within
        while True:
            try:
                self.assertEqual(sha256(echo_roundtrip(port, data, timeout=5)), sha256(data))
                return
            except (AssertionError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def echo_server(self, unix_path=None, handler=None):
        s = EchoServer(unix_path, handler)
        self.servers.append(s)
        return s
