"""End-to-end test harness: real tunnel-service and localproxy processes on loopback.

Every process is started by a Harness, logs to its own file, and is stopped by PID when the
test ends. Every wait has a deadline.

Either end of a pair can be an outside localproxy (e.g. the reference AWS localproxy 3.3.1):
LOCALPROXY_PEER_SOURCE=PATH and LOCALPROXY_PEER_DESTINATION=PATH name it; a test asks for it
with peer_binary("source"|"destination"), which skips the test when the variable is unset, and
passes it to start_pair/start_proxy as src_binary/dst_binary/binary. An outside binary gets a
complete settings file: its own --export-default-settings with our test overrides merged in and
the keys it does not export left out (the reference reads the file in place of its settings tree
and ignores unknown keys silently, so nothing else would tell us a setting did not apply). The
reference speaks wss:// only (-e HOST:PORT, -c DIR/ca), logs to stderr (Proc captures both),
writes the same "Successfully established websocket connection" and "Listening for new connection
on port N" lines as ours (CONNECTED_RX, LISTENING_RX), and dies at once on SIGTERM.
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
# Outside localproxy binaries for one end of a pair (unset: the tests that need them are skipped).
PEER_SOURCE = os.environ.get("LOCALPROXY_PEER_SOURCE") or None
PEER_DESTINATION = os.environ.get("LOCALPROXY_PEER_DESTINATION") or None

# The bulk transfers' sizes are multiplied by LOCALPROXY_E2E_PAYLOAD_SCALE (default 1): the
# sanitized CI run (scripts/test-sanitized.sh) moves less, as ASan makes every byte slower.
PAYLOAD_SCALE = float(os.environ.get("LOCALPROXY_E2E_PAYLOAD_SCALE") or 1)


def payload_size(size):
    """A bulk transfer's size in bytes, scaled; never below 64 KiB (still many messages)."""
    return max(65536, int(size * PAYLOAD_SCALE)) if PAYLOAD_SCALE != 1 else size


# Log lines both our localproxy and the reference 3.3.1 write (the same wording).
CONNECTED_RX = r"Successfully established websocket connection with proxy server"
LISTENING_RX = r"Listening for new connection on port (\d+)"

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
        self.peak_rss_kib = 0  # the largest VmRSS sampled: what was resident at the busiest moment seen
        self.peak_anon_kib = 0  # the process's own memory (heap, stacks), without shared library pages
        self.hwm_kib = 0  # VmHWM: the kernel's high-water mark over the whole life, start-up included

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
                    if line.startswith("VmRSS:"):
                        self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))
                    elif line.startswith("VmHWM:"):
                        self.hwm_kib = max(self.hwm_kib, int(line.split()[1]))
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


def is_ours(binary):
    return binary is None or os.path.realpath(binary) == os.path.realpath(LOCALPROXY)


def peer_binary(role):
    """The outside localproxy for `role` ("source" or "destination"); skips the test when unset."""
    path = PEER_SOURCE if role == "source" else PEER_DESTINATION
    var = "LOCALPROXY_PEER_SOURCE" if role == "source" else "LOCALPROXY_PEER_DESTINATION"
    if not path:
        raise unittest.SkipTest(f"{var} is not set")
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"{var}={path} is not an executable")
    return path


_exported_defaults = {}


def exported_defaults(binary):
    """The settings tree `binary --export-default-settings` writes (cached per binary)."""
    key = os.path.realpath(binary)
    if key not in _exported_defaults:
        with tempfile.TemporaryDirectory(prefix="lp-defaults-") as d:
            path = os.path.join(d, "defaults.json")
            subprocess.run([binary, "--export-default-settings", path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, cwd=d)
            with open(path) as f:
                _exported_defaults[key] = json.load(f)
    return _exported_defaults[key]


def overlay_known(base, extra):
    """extra merged over base, keeping only keys base has (an outside binary may not know ours)."""
    out = dict(base)
    for k, v in extra.items():
        if k not in out:
            continue
        out[k] = overlay_known(out[k], v) if isinstance(v, dict) and isinstance(out[k], dict) else v
    return out


def free_port():
    return free_ports(1)[0]


def free_ports(count):
    """`count` different ports free on 127.0.0.1 now. They are picked while all are held: ports
    picked one after the other, each released before the next is asked for, can repeat."""
    held = []
    try:
        for _ in range(count):
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


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
    """Sends data through the tunnel to an echo server while reading the echo back; returns it.
    port: a TCP port on host, or the path of a Unix socket."""
    if isinstance(port, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(port)
    else:
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
        if not hasattr(self, "certs_dir"):  # a SharedService class sets its own
            self.certs_dir = os.path.join(self.dir, "certs")

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
    @staticmethod
    def launch_service(workdir, tunnels=(), plain=False, extra=()):
        """Starts a tunnel-service in workdir; returns (proc, scheme, port, api_port, certs_dir)."""
        certs = os.path.join(workdir, "certs")
        args = [TUNNEL_SERVICE, "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "-v", "5"]
        args += ["--plain"] if plain else ["--self-signed", certs]
        for t in tunnels:
            args += ["--tunnel", t]
        args += list(extra)
        svc = Proc("tunnel-service", args, workdir)
        try:
            m = svc.wait_for(r"tunnel-service listening on (wss?)://[^:\s]+:(\d+)")
            api_port = int(svc.wait_for(r"api on http://[^:\s]+:(\d+)").group(1))
        except BaseException:
            svc.stop()
            raise
        return svc, m.group(1), int(m.group(2)), api_port, certs

    def start_service(self, tunnels=(), plain=False, extra=()):
        svc, self.service_scheme, self.service_port, self.api_port, self.certs_dir = \
            self.launch_service(self.dir, tunnels, plain, extra)
        self.procs.append(svc)
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
    def settings_file(self, extra=None, binary=None):
        path = os.path.join(self.dir, f"settings-{len(self.procs)}.json")
        wanted = deep_merge(FAST_SETTINGS, extra or {})
        if not is_ours(binary):
            wanted = overlay_known(exported_defaults(binary), wanted)
        with open(path, "w") as f:
            json.dump(wanted, f)
        return path

    def endpoint_args(self):
        if self.service_scheme == "ws":
            return ["-e", f"ws://127.0.0.1:{self.service_port}"]
        return ["-e", f"localhost:{self.service_port}", "-c", os.path.join(self.certs_dir, "ca")]

    def start_proxy(self, name, mode_args, token, settings=None, extra=(), verbose="5", env=None, binary=None):
        """Starts a localproxy (ours, or `binary`: an outside one) with the test settings."""
        if not is_ours(binary) and self.service_scheme == "ws":
            raise unittest.SkipTest("an outside localproxy speaks wss:// only")
        args = [binary or LOCALPROXY] + list(mode_args) + self.endpoint_args()
        args += ["--settings-json", self.settings_file(settings, binary), "-v", verbose] + list(extra)
        full_env = {"AWSIOT_TUNNEL_ACCESS_TOKEN": token}
        if not is_ours(binary) and "-i" not in extra and "--client-token" not in extra:
            # ours makes up a client token (websocket.generate_client_token); the reference does not,
            # and without one it cannot reconnect with its single-use access token (403, exit 0)
            full_env["AWSIOT_TUNNEL_CLIENT_TOKEN"] = os.urandom(20).hex()
        full_env.update(env or {})
        p = Proc(name, args, self.dir, env=full_env)
        self.procs.append(p)
        return p

    def start_pair(self, services_dst, services_src, tunnel_services, settings=None, src_extra=(), dst_extra=(),
                   verbose="5", src_binary=None, dst_binary=None, wait_source=True, env=None):
        """Opens a tunnel and starts a destination then a source; returns (src, dst, [listening ports]).
        src_binary/dst_binary: an outside localproxy for that end (see peer_binary). wait_source
        False: do not wait for the source to listen (for a source that is expected to fail). env:
        more environment for both proxies."""
        t = self.open_tunnel(tunnel_services)
        self.tunnel = t
        dst = self.start_proxy("destination", ["-d", services_dst], t["destinationAccessToken"], settings, dst_extra,
                               verbose, env=env, binary=dst_binary)
        self.wait_connected(dst)
        src = self.start_proxy("source", ["-s", services_src], t["sourceAccessToken"], settings, src_extra, verbose,
                               env=env, binary=src_binary)
        ports = self.wait_listening(src, len(tunnel_services) or 1) if wait_source else []
        return src, dst, ports

    def wait_connected(self, proxy, timeout=15.0, after=0):
        """Waits until the proxy (ours or the reference) has its WebSocket to the service."""
        return proxy.wait_for(CONNECTED_RX, timeout, after)

    def wait_listening(self, src, count, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.findall(LISTENING_RX, src.text())
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


class SharedService(Harness):
    """One tunnel-service for the whole test class (each test opens its own tunnels on it); the
    proxies and servers of each test are still started and stopped per test."""

    service_tunnels = ()
    service_plain = False
    service_extra = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.class_dir = tempfile.mkdtemp(prefix="lp-e2e-svc-")
        try:
            (cls.service, cls.service_scheme, cls.service_port, cls.api_port,
             cls.certs_dir) = cls.launch_service(cls.class_dir, cls.service_tunnels, cls.service_plain,
                                                 cls.service_extra)
        except BaseException:
            shutil.rmtree(cls.class_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.service.stop()
        if os.environ.get("LP_E2E_KEEP"):
            print("kept", cls.class_dir)
        else:
            shutil.rmtree(cls.class_dir, ignore_errors=True)
        super().tearDownClass()

    def start_service(self, *args, **kwargs):
        raise AssertionError("a SharedService class has its service already (self.service)")
