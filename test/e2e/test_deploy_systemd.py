"""systemd integration: sd_notify (READY=1 once useful, STATUS=, WATCHDOG=1, STOPPING=1) through a
fake NOTIFY_SOCKET, and socket activation through systemd-socket-activate."""
import os
import re
import shutil
import signal
import socket
import threading
import time
import unittest

from harness import Harness, LOCALPROXY, Proc, TUNNEL_SERVICE, echo_roundtrip, free_port, free_ports, sha256


class NotifySocket:
    """The service manager's side of sd_notify: a Unix datagram socket that records what arrives."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, [lines])
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode().splitlines()))

    def lines(self):
        with self.lock:
            return [(t, line) for t, lines in self.messages for line in lines]

    def wait_for(self, prefix, timeout=15.0, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [(t, line) for t, line in self.lines() if line.startswith(prefix)]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"no {count} x {prefix!r} within {timeout}s; got {self.lines()}")

    def close(self):
        self.closed = True
        self.sock.close()


class Notify(Harness):
    def notify_socket(self):
        n = NotifySocket(os.path.join(self.dir, "notify.sock"))
        self.servers.append(n)
        return n

    def test_ready_only_once_the_tunnel_is_up_then_status_watchdog_and_stopping(self):
        # The service is not there yet: the source retries and must not claim to be ready.
        port = free_port()
        listen = free_port()
        notify = self.notify_socket()
        settings = self.settings_file({"tunneling": {"proxy": {"status_period_ms": 300}}})
        args = [LOCALPROXY, "-s", f"SSH={listen}", "-e", f"ws://127.0.0.1:{port}", "--settings-json", settings, "-v", "5"]
        env = {"AWSIOT_TUNNEL_ACCESS_TOKEN": "src-token", "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"}
        src = Proc("source", args, self.dir, env=env)
        self.procs.append(src)
        src.wait_for(r"Reconnecting in", timeout=10)
        time.sleep(0.5)
        self.assertFalse([l for _, l in notify.lines() if l.startswith("READY=1")], notify.lines())
        statuses = [l for _, l in notify.lines() if l.startswith("STATUS=")]
        self.assertTrue(any("connecting to ws://127.0.0.1" in s for s in statuses), statuses)
        self.assertTrue(any("retrying in" in s for s in statuses), statuses)
        # Watchdog pings come while it is not connected too: they say the event loop runs.
        self.assertGreaterEqual(len([l for _, l in notify.lines() if l == "WATCHDOG=1"]), 3, notify.lines())

        service = Proc("tunnel-service", [TUNNEL_SERVICE, "--listen", f"127.0.0.1:{port}", "--plain", "-v", "5",
                                          "--tunnel", "t1:src-token:dst-token:SSH"], self.dir)
        self.procs.append(service)
        (ready_at, ready), = notify.wait_for("READY=1", timeout=15)
        # The listener is open when READY=1 is sent: a client can connect at once.
        with socket.create_connection(("127.0.0.1", listen), timeout=5):
            pass
        log = src.text()
        self.assertIn("Successfully established websocket connection", log)
        self.assertIn(f"Listening for new connection on port {listen}", log)
        ready_status = [l for t, l in notify.lines() if t == ready_at and l.startswith("STATUS=")]
        self.assertTrue(ready_status and "connected to ws://127.0.0.1" in ready_status[0], notify.lines())
        # The periodic status line, as the log has it without "status: ".
        deadline = time.monotonic() + 5
        while not any(re.match(r"STATUS=connected \d+s, rtt [0-9.]+ ms, connections SSH \d+( \(\d+ opened\))?; since last: ", l)
                      for _, l in notify.lines()):
            self.assertLess(time.monotonic(), deadline, notify.lines())
            time.sleep(0.05)
        self.assertEqual(len([l for _, l in notify.lines() if l == "READY=1"]), 1)

        pings_before = len([l for _, l in notify.lines() if l == "WATCHDOG=1"])
        time.sleep(1.0)
        pings = len([l for _, l in notify.lines() if l == "WATCHDOG=1"]) - pings_before
        self.assertGreaterEqual(pings, 5, "WATCHDOG_USEC=200000 means a ping every 100 ms")
        self.assertLessEqual(pings, 15)

        src.signal(signal.SIGTERM)
        self.assertEqual(src.wait_exit(3), 0, src.tail())
        notify.wait_for("STOPPING=1", timeout=2)

    def test_destination_ready_after_service_ids_and_no_watchdog_for_another_pid(self):
        self.start_service()
        echo = self.echo_server()
        notify = self.notify_socket()
        t = self.open_tunnel(["SSH"])
        dst = self.start_proxy("destination", ["-d", f"SSH={echo.port}"], t["destinationAccessToken"],
                               env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"})
        (ready_at, _), = notify.wait_for("READY=1")
        dst.wait_for(r"Service SSH -> ")  # SERVICE_IDS applied (logged before READY=1 is sent)
        time.sleep(0.5)
        self.assertNotIn("WATCHDOG=1", [l for _, l in notify.lines()], "WATCHDOG_PID names another process")
        src = self.start_proxy("source", ["-s", f"SSH={free_port()}"], t["sourceAccessToken"])
        port = self.wait_listening(src, 1)[0]
        data = os.urandom(300000)
        self.assertEqual(sha256(echo_roundtrip(port, data)), sha256(data))

    def test_without_notify_socket_nothing_is_sent_and_libsystemd_is_not_even_loaded(self):
        self.start_service()
        echo = self.echo_server()
        notify = self.notify_socket()
        t = self.open_tunnel(["SSH"])
        dst = self.start_proxy("destination", ["-d", f"SSH={echo.port}"], t["destinationAccessToken"],
                               env={"NOTIFY_SOCKET": notify.path})
        notify.wait_for("READY=1")
        src = self.start_proxy("source", ["-s", f"SSH={free_port()}"], t["sourceAccessToken"])
        port = self.wait_listening(src, 1)[0]
        self.assertEqual(echo_roundtrip(port, b"hello"), b"hello")
        self.assertNotIn("sd_notify", src.text() + dst.text())

        def maps(p):
            with open(f"/proc/{p.pid}/maps") as f:
                return f.read()
        # Loaded on demand: it would cost every proxy outside systemd about 1.2 MB of resident size.
        self.assertNotIn("libsystemd", maps(src))
        self.assertIn("libsystemd", maps(dst))


@unittest.skipUnless(shutil.which("systemd-socket-activate"), "systemd-socket-activate not installed (package systemd)")
class SocketActivation(Harness):
    def setUp(self):
        super().setUp()
        self.start_service()
        self.echo = self.echo_server()

    def activated_source(self, listen, mapping, fdname=None, extra=()):
        t = self.open_tunnel(["SSH"])
        dst = self.start_proxy("destination", ["-d", f"SSH={self.echo.port}"], t["destinationAccessToken"])
        dst.wait_for(r"Successfully established websocket connection")
        args = ["systemd-socket-activate", "-l", f"127.0.0.1:{listen}"]
        if fdname:
            args.append(f"--fdname={fdname}")
        # systemd-socket-activate passes only the variables named with -E.
        args += ["-E", f"AWSIOT_TUNNEL_ACCESS_TOKEN={t['sourceAccessToken']}", LOCALPROXY, "-s", mapping]
        args += self.endpoint_args() + ["--settings-json", self.settings_file(), "-v", "5"] + list(extra)
        src = Proc("source", args, self.dir)
        self.procs.append(src)
        src.wait_for(r"Listening on 127.0.0.1:\d+ as ", timeout=10)  # systemd-socket-activate's own line
        return src

    def test_named_listener_is_used_instead_of_binding(self):
        listen, configured = free_ports(2)
        src = self.activated_source(listen, f"SSH={configured}", fdname="SSH")
        # The first client starts the proxy; its connection waits in the backlog meanwhile.
        data = os.urandom(500000)
        self.assertEqual(sha256(echo_roundtrip(listen, data, timeout=20)), sha256(data))
        log = src.text()
        self.assertIn("Using the socket-activated listener SSH for service SSH", log)
        self.assertIn(f"Listening for new connection on port {listen}", log)
        with self.assertRaises(OSError):  # the configured port was not bound
            socket.create_connection(("127.0.0.1", configured), timeout=2).close()
        self.assertTrue(src.running())
        self.assertEqual(sha256(echo_roundtrip(listen, data)), sha256(data))  # and it keeps accepting

    def test_single_unnamed_mapping_takes_the_single_socket(self):
        listen = free_port()
        src = self.activated_source(listen, str(free_port()))
        self.assertEqual(echo_roundtrip(listen, b"through an unnamed socket", timeout=20), b"through an unnamed socket")
        self.assertIn("Using the socket-activated listener", src.text())

    def test_a_socket_no_service_takes_is_closed_with_a_warning(self):
        listen, configured = free_ports(2)
        src = self.activated_source(listen, f"SSH={configured}", fdname="WEB")
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as trigger:
            src.wait_for(r"Socket-activated listener WEB \(fd 3\) matches no service", timeout=15)
            self.wait_listening(src, 1)
            trigger.settimeout(5)
            try:  # its pending client is dropped with the socket: EOF or a reset
                self.assertEqual(trigger.recv(10), b"")
            except ConnectionResetError:
                pass
        self.assertEqual(echo_roundtrip(configured, b"bound normally"), b"bound normally")


if __name__ == "__main__":
    unittest.main()
