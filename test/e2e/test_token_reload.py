"""Token rotation: SIGHUP re-reads the token files (RELOADING=1 / READY=1 to systemd), and a 401/403
after RotateTunnelAccessToken re-reads them before giving up."""
import os
import signal
import socket
import time

from harness import LOCALPROXY, Harness, Proc, echo_roundtrip, free_port, sha256
from test_deploy_systemd import NotifySocket
from web_proxies import FakeProxy

CHANGED_RX = r"Reload \(SIGHUP\): .* holds a new token; reconnecting with it"
UNCHANGED_RX = r"Reload \(SIGHUP\): the token in --access-token-file \(.*\) is unchanged"


def write_token(path, token, mode=0o600):
    """Replaces the file atomically (as an operator's tooling should), private unless `mode` says."""
    tmp = path + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class Gate:
    """A TCP forwarder in front of the service that can be shut: while shut it drops each connection
    at once, so a proxy's attempts fail as a network error and it keeps retrying."""

    def __init__(self, harness, target_port):
        self.target_port = target_port
        self.is_open = True
        self.port = harness.echo_server(handler=self._forward).port

    def _forward(self, conn):
        if not self.is_open:
            return  # the server closes conn
        with socket.create_connection(("127.0.0.1", self.target_port), timeout=5) as upstream:
            upstream.settimeout(None)
            FakeProxy._splice(conn, upstream)


class TokenReload(Harness):
    def setUp(self):
        super().setUp()
        self.start_service(plain=True)
        self.echo = self.echo_server()

    def start_with_file(self, name, mode_args, token, endpoint=None, env=None, settings=None):
        """A proxy whose access token comes from a private file; returns (proc, token file path)."""
        path = os.path.join(self.dir, name + ".token")
        write_token(path, token)
        args = [LOCALPROXY] + mode_args + (endpoint or self.endpoint_args())
        args += ["--access-token-file", path, "--settings-json", self.settings_file(settings), "-v", "5"]
        p = Proc(name, args, self.dir, env=env)
        self.procs.append(p)
        return p, path

    def pair_with_files(self, endpoint=None, dst_env=None):
        t = self.open_tunnel(["SSH"])
        self.tunnel = t
        dst, dst_file = self.start_with_file("destination", ["-d", f"SSH={self.echo.port}"],
                                             t["destinationAccessToken"], endpoint, dst_env)
        self.wait_connected(dst)
        src, src_file = self.start_with_file("source", ["-s", f"SSH={free_port()}"], t["sourceAccessToken"], endpoint)
        port = self.wait_listening(src, 1)[0]
        return src, dst, src_file, dst_file, port

    def test_sighup_with_the_file_unchanged_keeps_an_open_connection(self):
        src, dst, _, _, port = self.pair_with_files()
        held = socket.create_connection(("127.0.0.1", port), timeout=10)
        held.sendall(b"before")
        self.assertEqual(held.recv(6), b"before")
        marks = (len(src.text()), len(dst.text()))
        src.signal(signal.SIGHUP)
        dst.signal(signal.SIGHUP)
        line = src.wait_for(UNCHANGED_RX + r"; the tunnel and its 1 connection\(s\) stay up", after=marks[0])
        self.assertTrue(line)
        dst.wait_for(UNCHANGED_RX, after=marks[1])
        held.sendall(b"after the reload")
        self.assertEqual(held.recv(16), b"after the reload")  # the same connection, still up
        held.close()
        self.assertNotIn("Successfully established", src.text()[marks[0]:])
        self.assertNotIn("Successfully established", dst.text()[marks[1]:])
        self.assertEqual(src.text()[marks[0]:].count("Reload (SIGHUP)"), 1)  # one line per reload

    def rotate_behind_a_shut_gate(self):
        """Both proxies through a gate; the gate is shut, the tokens rotated (the service drops both
        ends) and written into the files. Returns (src, dst, gate, port, marks)."""
        gate = Gate(self, self.service_port)
        src, dst, src_file, dst_file, port = self.pair_with_files(["-e", f"ws://127.0.0.1:{gate.port}"])
        self.assertEqual(echo_roundtrip(port, b"old token"), b"old token")
        marks = (len(src.text()), len(dst.text()))
        gate.is_open = False
        status, rotated = self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/rotate")
        self.assertEqual(status, 200, rotated)
        for p, mark in ((src, marks[0]), (dst, marks[1])):
            p.wait_for(r"Could not connect to .*\(attempt \d+\).*Reconnecting in", after=mark)
        write_token(src_file, rotated["sourceAccessToken"])
        write_token(dst_file, rotated["destinationAccessToken"])
        return src, dst, gate, port, marks

    def test_rotate_then_sighup_reconnects_both_with_the_new_tokens(self):
        src, dst, gate, port, marks = self.rotate_behind_a_shut_gate()
        src.signal(signal.SIGHUP)
        dst.signal(signal.SIGHUP)
        src.wait_for(CHANGED_RX, after=marks[0])
        dst.wait_for(CHANGED_RX, after=marks[1])
        gate.is_open = True
        self.wait_connected(src, after=marks[0])
        self.wait_connected(dst, after=marks[1])
        data = os.urandom(200000)
        self.assert_echo_recovers(port, len(data))
        for p, mark in ((src, marks[0]), (dst, marks[1])):
            self.assertNotIn("Connection rejected", p.text()[mark:])
            self.assertNotIn("The service refused the token", p.text()[mark:])  # the new token went first
            self.assertTrue(p.running())

    def test_rotate_then_the_refused_old_token_makes_both_read_the_new_file(self):
        src, dst, gate, port, marks = self.rotate_behind_a_shut_gate()
        gate.is_open = True  # no SIGHUP: they try the old token, get 401 and read the files again
        for p, mark in ((src, marks[0]), (dst, marks[1])):
            p.wait_for(r"The service refused the token; --access-token-file \(.*\) holds a new one \(rotated\): "
                       r"retrying with it at once", after=mark)
            self.wait_connected(p, after=mark)
        self.assert_echo_recovers(port, 200000)
        self.assertTrue(src.running() and dst.running())

    def test_sighup_with_another_token_while_connected_moves_to_it(self):
        # The destination's file is switched to the token of a second tunnel: the reload ends the
        # live session and connects with the new token; systemd hears READY=1 only once it has.
        notify = NotifySocket(os.path.join(self.dir, "notify.sock"))
        self.servers.append(notify)
        t1 = self.open_tunnel(["SSH"])
        dst, dst_file = self.start_with_file("destination", ["-d", f"SSH={self.echo.port}"],
                                             t1["destinationAccessToken"], env={"NOTIFY_SOCKET": notify.path})
        self.wait_connected(dst)
        notify.wait_for("READY=1")
        t2 = self.open_tunnel(["SSH"])
        mark = len(dst.text())
        write_token(dst_file, t2["destinationAccessToken"])
        dst.signal(signal.SIGHUP)
        dst.wait_for(CHANGED_RX, after=mark)
        self.wait_connected(dst, after=mark)
        (reloading_at, _), = notify.wait_for("RELOADING=1")
        ready = notify.wait_for("READY=1", count=2)[1]
        self.assertGreaterEqual(ready[0], reloading_at)
        status = [l for t, l in notify.lines() if t == ready[0] and l.startswith("STATUS=")]
        self.assertTrue(status and "connected to" in status[0], notify.lines())
        src = self.start_proxy("source", ["-s", f"SSH={free_port()}"], t2["sourceAccessToken"])
        port = self.wait_listening(src, 1)[0]
        data = os.urandom(100000)
        self.assertEqual(sha256(echo_roundtrip(port, data)), sha256(data))
        _, state = self.api("GET", f"/tunnels/{t1['tunnelId']}")
        self.assertFalse(state["destination"]["connected"])  # it left the first tunnel

    def test_rotate_without_a_new_file_still_exits_three(self):
        src, dst, _, _, _ = self.pair_with_files()
        status, _ = self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/rotate")
        self.assertEqual(status, 200)
        for p in (src, dst):
            self.assertEqual(p.wait_exit(15), 3, p.tail())
            self.assertIn("still holds it", p.text())
            self.assertIn("Not retrying", p.text())

    def test_systemd_hears_reloading_then_ready(self):
        notify = NotifySocket(os.path.join(self.dir, "notify.sock"))
        self.servers.append(notify)
        src, dst, _, _, port = self.pair_with_files(dst_env={"NOTIFY_SOCKET": notify.path})
        notify.wait_for("READY=1")
        dst.signal(signal.SIGHUP)
        (reloading_at, _), = notify.wait_for("RELOADING=1")
        monotonic = [l for t, l in notify.lines() if t == reloading_at and l.startswith("MONOTONIC_USEC=")]
        self.assertEqual(len(monotonic), 1, notify.lines())  # in the same datagram, as systemd 253+ wants
        self.assertGreater(int(monotonic[0].split("=", 1)[1]), 0)
        ready = notify.wait_for("READY=1", count=2)
        self.assertGreaterEqual(ready[1][0], reloading_at)
        status = [l for t, l in notify.lines() if t == ready[1][0] and l.startswith("STATUS=")]
        self.assertEqual(len(status), 1, notify.lines())
        self.assertRegex(status[0], r"^STATUS=connected to ws://127\.0\.0\.1:\d+, channel-id \w+ \(reload: token unchanged\)$")
        self.assertEqual(echo_roundtrip(port, b"still up"), b"still up")

    def test_a_bad_file_on_reload_is_an_error_and_the_old_token_stays(self):
        src, dst, src_file, _, port = self.pair_with_files()
        for breakage, expected in ((lambda: os.chmod(src_file, 0o644), r"readable by group or others"),
                                   (lambda: write_token(src_file, ""), r"the file is empty"),
                                   (lambda: os.unlink(src_file), r"cannot open")):
            mark = len(src.text())
            breakage()
            src.signal(signal.SIGHUP)
            src.wait_for(r"Reload \(SIGHUP\): --access-token-file: .*" + expected + r".*; keeping the current token",
                         after=mark)
            self.assertEqual(echo_roundtrip(port, b"old token still works"), b"old token still works")
            self.assertNotIn("Successfully established", src.text()[mark:])
            write_token(src_file, self.tunnel["sourceAccessToken"])
        self.assertTrue(src.running())

    def test_a_token_from_the_environment_cannot_be_reloaded_and_says_so(self):
        t = self.open_tunnel(["SSH"])
        dst = self.start_proxy("destination", ["-d", f"SSH={self.echo.port}"], t["destinationAccessToken"])
        self.wait_connected(dst)
        mark = len(dst.text())
        dst.signal(signal.SIGHUP)
        dst.wait_for(r"Reload \(SIGHUP\): the access token was given by AWSIOT_TUNNEL_ACCESS_TOKEN and cannot be "
                     r"reloaded", after=mark)
        time.sleep(0.3)
        self.assertTrue(dst.running())
        self.assertEqual(dst.text()[mark:].count("Reload (SIGHUP)"), 1)
        self.assertNotIn("Successfully established", dst.text()[mark:])


if __name__ == "__main__":
    import unittest
    unittest.main()
