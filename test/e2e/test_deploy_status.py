"""--status-file and --health; token files and the environment scrub, as a deployment uses them."""
import json
import os
import signal
import socket
import subprocess
import time
import unittest

from harness import LOCALPROXY, Harness, Proc, echo_roundtrip, free_port, sha256

QUICK_STATUS = {"tunneling": {"proxy": {"status_period_ms": 300, "websocket": {"ping_period_ms": 100}}}}


def health(path, *extra):
    r = subprocess.run([LOCALPROXY, "--health", path, *extra], capture_output=True, text=True, timeout=10)
    return r.returncode, (r.stdout + r.stderr).strip()


def read_status(path):
    with open(path) as f:
        return json.load(f)


class StatusFile(Harness):
    def setUp(self):
        super().setUp()
        self.start_service()
        self.echo = self.echo_server()

    def wait_status(self, path, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = read_status(path)  # rename() makes every read a whole document
                if predicate(last):
                    return last
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"status file never matched; last: {last}")

    def test_status_file_follows_the_tunnel_and_health_says_so(self):
        status = os.path.join(self.dir, "status.json")
        self.assertEqual(health(status)[0], 1)  # no file yet
        src, dst, ports = self.start_pair(f"SSH={self.echo.port}", f"SSH={free_port()}", ["SSH"],
                                          settings=QUICK_STATUS, src_extra=["--status-file", status])
        s = self.wait_status(status, lambda s: s["state"] == "connected")
        self.assertEqual(s["mode"], "source")
        self.assertTrue(s["channel_id"])
        self.assertEqual(s["period_ms"], 300)
        self.assertEqual(s["connections"], {"SSH": 0})
        code, text = health(status)
        self.assertEqual(code, 0, text)
        self.assertIn("healthy", text)

        held = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        held.sendall(b"x")
        self.assertEqual(held.recv(1), b"x")
        data = os.urandom(400000)
        self.assertEqual(sha256(echo_roundtrip(ports[0], data)), sha256(data))
        s = self.wait_status(status, lambda s: s["connections"]["SSH"] == 1 and s["bytes_to_service"] >= len(data))
        self.assertGreaterEqual(s["bytes_from_service"], len(data))
        self.assertIsNotNone(s["rtt_ms"])
        held.close()

        # A proxy that stops updating the file (wedged, or gone) turns unhealthy within 3 periods.
        src.signal(signal.SIGSTOP)
        try:
            time.sleep(1.3)
            code, text = health(status)
            self.assertEqual(code, 1, text)
            self.assertIn("stale", text)
            self.assertEqual(health(status, "--health-max-age", "60")[0], 0)
        finally:
            src.signal(signal.SIGCONT)
        self.wait_status(status, lambda s: time.time() * 1000 - s["updated_unix_ms"] < 500)
        self.assertEqual(health(status)[0], 0)

        # A lost connection is reported with its cause, and the state comes back.
        mark = len(src.text())
        self.assertEqual(self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/drop?side=source")[0], 200)
        s = self.wait_status(status, lambda s: s["state"] == "reconnecting")
        self.assertTrue(s["last_error"])
        src.wait_for(r"Successfully established websocket connection", after=mark)
        self.wait_status(status, lambda s: s["state"] == "connected")

        # The end: state stopped, health 1.
        src.signal(signal.SIGTERM)
        self.assertEqual(src.wait_exit(3), 0)
        self.assertEqual(read_status(status)["state"], "stopped")
        code, text = health(status)
        self.assertEqual(code, 1)
        self.assertIn("state stopped", text)
        self.assertEqual([f for f in os.listdir(self.dir) if ".tmp." in f], [])  # no temporary left behind

    def test_destination_status_from_the_environment_variable(self):
        status = os.path.join(self.dir, "dst-status.json")
        t = self.open_tunnel(["SSH"])
        dst = self.start_proxy("destination", ["-d", f"SSH={self.echo.port}"], t["destinationAccessToken"],
                               settings=QUICK_STATUS, env={"LOCALPROXY_STATUS_FILE": status})
        s = self.wait_status(status, lambda s: s["state"] == "connected")
        self.assertEqual(s["mode"], "destination")
        self.assertEqual(health(status)[0], 0)
        dst.stop()

    def test_rejected_token_leaves_stopped_with_the_reason(self):
        status = os.path.join(self.dir, "status.json")
        self.open_tunnel(["SSH"])
        p = self.start_proxy("source", ["-s", str(free_port())], "not-a-valid-token", extra=["--status-file", status])
        self.assertEqual(p.wait_exit(15), 3)
        s = read_status(status)
        self.assertEqual(s["state"], "stopped")
        self.assertIn("HTTP 401", s["last_error"])
        self.assertNotIn("not-a-valid-token", json.dumps(s))

    def test_health_usage_errors_and_bad_files(self):
        bad = os.path.join(self.dir, "bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        code, text = health(bad)
        self.assertEqual(code, 1)
        self.assertIn("not a status file", text)
        r = subprocess.run([LOCALPROXY, "--health"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


class TokenFiles(Harness):
    def setUp(self):
        super().setUp()
        self.start_service()
        self.echo = self.echo_server()

    def private_file(self, name, content, mode=0o600):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, mode)
        return path

    def test_token_files_and_credentials_directory_carry_a_tunnel(self):
        t = self.open_tunnel(["SSH"])
        creds = os.path.join(self.dir, "creds")
        os.mkdir(creds)
        self.private_file("creds/access-token", t["destinationAccessToken"] + "\n")
        # The destination gets its token as systemd's LoadCredential= would give it.
        dst = self.start_proxy("destination", ["-d", f"SSH={self.echo.port}"], "", env={"CREDENTIALS_DIRECTORY": creds})
        dst.wait_for(r"Successfully established websocket connection")
        token_file = self.private_file("source.token", t["sourceAccessToken"] + "\n")
        src = self.start_proxy("source", ["-s", f"SSH={free_port()}"], "", extra=["--access-token-file", token_file],
                               verbose="6")
        port = self.wait_listening(src, 1)[0]
        data = os.urandom(200000)
        self.assertEqual(sha256(echo_roundtrip(port, data)), sha256(data))
        for p in (src, dst):
            for token in (t["sourceAccessToken"], t["destinationAccessToken"]):
                self.assertNotIn(token, p.text())

    def test_the_token_variable_is_gone_from_the_running_process(self):
        t = self.open_tunnel(["SSH"])
        src = self.start_proxy("source", ["-s", f"SSH={free_port()}"], t["sourceAccessToken"],
                               env={"AWSIOT_TUNNEL_CLIENT_TOKEN": "c" * 40})
        self.wait_listening(src, 1)
        with open(f"/proc/{src.pid}/environ", "rb") as f:
            environ = f.read()
        self.assertNotIn(t["sourceAccessToken"].encode(), environ)
        self.assertNotIn(b"c" * 40, environ)
        self.assertIn(b"PATH=", environ)  # the rest of the environment is intact

    def test_a_readable_or_missing_token_file_is_a_one_line_usage_error(self):
        readable = self.private_file("readable.token", "tok\n", 0o644)
        for path, detail in ((readable, "readable by group or others"), (os.path.join(self.dir, "none"), "cannot open")):
            r = subprocess.run([LOCALPROXY, "-s", "5555", "-e", "ws://127.0.0.1:1", "--access-token-file", path],
                               capture_output=True, text=True, timeout=10, env={"PATH": os.environ["PATH"]})
            self.assertEqual(r.returncode, 2, r.stderr)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn(path, lines[0])
            self.assertIn(detail, lines[0])
            self.assertNotIn("tok", lines[0].replace("token", ""))


if __name__ == "__main__":
    unittest.main()
