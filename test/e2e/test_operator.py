"""What an operator sees: --help and --version of both programs, the start-up and connect log
lines, --log-format (journal under JOURNAL_STREAM, json), the status line after a transfer, the
implicit ./config, and tunnel-service's start-up errors."""
import json
import os
import re
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from harness import LOCALPROXY, TUNNEL_SERVICE, Harness, Proc, echo_roundtrip, free_port, sha256

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GROUPS = ("Mode and mappings", "Service and tokens", "TLS and proxies", "Tuning", "Logging")
ISO_Z = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
TOKEN = "AQGAAXiSecretAccessTokenValue0123456789"


def run(args, timeout=30, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)


class Help(unittest.TestCase):
    def test_every_help_line_fits_80_columns(self):
        for binary in (LOCALPROXY, TUNNEL_SERVICE):
            r = run([binary, "--help"])
            self.assertEqual(r.returncode, 0, r.stderr)
            long_lines = [line for line in r.stdout.splitlines() if len(line) > 80]
            self.assertEqual(long_lines, [], binary)
            self.assertGreater(len(r.stdout.splitlines()), 20)

    def test_options_are_grouped_and_exit_statuses_listed(self):
        text = run([LOCALPROXY, "--help"]).stdout
        headings = re.findall(r"^(\w[\w ]+):$", text, re.M)
        for g in GROUPS:
            self.assertIn(g, headings)
        self.assertLess(text.index("Mode and mappings:"), text.index("-s, --source-listen-port"))
        self.assertLess(text.index("-s, --source-listen-port"), text.index("Service and tokens:"))
        self.assertLess(text.index("Logging:"), text.index("--log-format"))
        statuses = text.split("Exit statuses:")[1]
        for code in "0123":
            self.assertRegex(statuses, rf"(?m)^  {code}  \w")

    def test_every_option_of_the_reference_is_still_there(self):
        reference = os.environ.get("LOCALPROXY_PEER_SOURCE") or os.environ.get("LOCALPROXY_PEER_DESTINATION")
        if not reference:
            raise unittest.SkipTest("LOCALPROXY_PEER_SOURCE is not set")
        ref = run([reference, "--help"])
        theirs = set(re.findall(r"^  (-\w) \[ (--[a-z-]+) \]|^  (--[a-z-]+)", ref.stdout + ref.stderr, re.M))
        ours = run([LOCALPROXY, "--help"]).stdout
        self.assertGreater(len(theirs), 15)
        for short, long_name, alone in theirs:
            if short:
                self.assertIn(f"{short}, {long_name}", ours)
            else:
                self.assertRegex(ours, rf"(?m)^\s+{re.escape(alone)}\b")

    def test_tunnel_service_help_lists_every_api_endpoint(self):
        text = run([TUNNEL_SERVICE, "--help"]).stdout
        with open(os.path.join(ROOT, "test", "tunnel_service", "api.cpp")) as f:
            api = f.read()
        actions = re.findall(r'action == "([a-z-]+)"', api)
        self.assertGreaterEqual(len(actions), 5)
        for action in actions:
            self.assertRegex(text, rf"POST\s+/tunnels/ID/{action}\b")
        for path in re.findall(r'path == "(/[a-z]+)"', api):
            self.assertIn(path, text)
        for method in ("GET    /tunnels/ID", "DELETE /tunnels/ID", "POST   /tunnels "):
            self.assertIn(method, text)


class Version(unittest.TestCase):
    def test_version_names_the_revision_and_the_libraries(self):
        in_git = run(["git", "-C", ROOT, "rev-parse", "HEAD"]).returncode == 0
        for name, binary in (("localproxy", LOCALPROXY), ("tunnel-service", TUNNEL_SERVICE)):
            r = run([binary, "--version"])
            self.assertEqual(r.returncode, 0, r.stderr)
            m = re.match(rf"{name} (\d+\.\d+\.\d+) \(git ([0-9a-f]{{12}}(?:-dirty)?|unknown)\)\n", r.stdout)
            self.assertTrue(m, r.stdout)
            if in_git:  # a commit of this repository (HEAD when built from a clean tree, as CI does)
                revision = m.group(2).split("-")[0]
                self.assertNotEqual(revision, "unknown")
                exists = run(["git", "-C", ROOT, "cat-file", "-e", revision + "^{commit}"])
                self.assertEqual(exists.returncode, 0, (revision, exists.stderr))
            self.assertRegex(r.stdout, r"Boost \d+\.\d+\.\d+, OpenSSL \d+\.\d+\.\d+, Protobuf \d+\.\d+\.\d+\n$")


class Logs(Harness):
    def setUp(self):
        super().setUp()
        self.start_service()
        self.echo = self.echo_server()

    def test_startup_line_and_connect_attempts_name_everything_but_the_token(self):
        t = self.open_tunnel(["SSH"])
        port = free_port()
        p = self.start_proxy("source", ["-s", f"SSH={port}"], t["sourceAccessToken"], verbose="4",
                             extra=["-i", "c" * 40])
        self.wait_listening(p, 1)
        text = p.text()
        line = re.search(r"\[info\] Starting localproxy \S+ \(git \S+\): (.*)", text)
        self.assertTrue(line, text)
        self.assertIn(f"source mode, mappings SSH=localhost:{port}, endpoint wss://localhost:{self.service_port}, "
                      "subprotocol aws.iot.securetunneling-3.0", line.group(1))
        self.assertRegex(text, rf"\[info\] Connecting to wss://localhost:{self.service_port} \(attempt 1\)")
        self.assertNotIn(t["sourceAccessToken"], text)
        self.assertNotIn("c" * 40, text)

    def test_a_failed_attempt_is_logged_with_its_number(self):
        settings = self.settings_file({"tunneling": {"proxy": {"websocket": {"connect_retry_count": 1}}}})
        args = [LOCALPROXY, "-s", str(free_port()), "-e", f"ws://127.0.0.1:{free_port()}", "--settings-json", settings]
        p = Proc("unreachable", args, self.dir, env={"AWSIOT_TUNNEL_ACCESS_TOKEN": TOKEN})
        self.procs.append(p)
        self.assertEqual(p.wait_exit(20), 1, p.tail())
        text = p.text()
        self.assertRegex(text, r"Connecting to ws://127\.0\.0\.1:\d+ \(attempt 1\)\n.*Could not connect")
        self.assertIn("(attempt 2)", text)
        self.assertNotIn(TOKEN, text)

    def journal_run(self, extra=(), journal_stream=True):
        """Runs a proxy that gives up after two attempts (unreachable service) with stderr to a file
        whose device:inode JOURNAL_STREAM names, as systemd does; returns its stderr."""
        log = os.path.join(self.dir, f"journal-{len(extra)}-{journal_stream}.log")
        settings = self.settings_file({"tunneling": {"proxy": {"websocket": {"connect_retry_count": 1}}}})
        with open(log, "wb") as f:
            st = os.fstat(f.fileno())
            env = dict(os.environ, AWSIOT_TUNNEL_ACCESS_TOKEN=TOKEN)
            if journal_stream:
                env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
            r = subprocess.run([LOCALPROXY, "-s", str(free_port()), "-e", f"ws://127.0.0.1:{free_port()}",
                                "--settings-json", settings, *extra], stdout=subprocess.DEVNULL, stderr=f,
                               stdin=subprocess.DEVNULL, env=env, timeout=30, cwd=self.dir)
        self.assertEqual(r.returncode, 1)
        with open(log) as f:
            return f.read()

    def test_journal_priorities_under_journal_stream(self):
        text = self.journal_run()
        lines = text.splitlines()
        self.assertGreater(len(lines), 3)
        for line in lines:
            self.assertRegex(line, r"^<[2-7]>\S")
            self.assertNotRegex(line, ISO_Z)
        for rx in (r"<6>Starting localproxy ", r"<6>Connecting to ws://", r"<4>Could not connect to ",
                   r"<3>.*Giving up"):
            self.assertTrue(any(re.match(rx, line) for line in lines), (rx, text))
        self.assertNotIn(TOKEN, text)

    def test_an_explicit_format_wins_over_journal_stream(self):
        text = self.journal_run(["--log-format", "plain"])
        for line in text.splitlines():
            self.assertRegex(line, rf"^\[{ISO_Z}\] \[(info|warning|error)\] ")

    def test_json_lines_parse(self):
        text = self.journal_run(["--log-format", "json"], journal_stream=False)
        lines = text.splitlines()
        self.assertGreater(len(lines), 3)
        for line in lines:
            record = json.loads(line)
            self.assertEqual(set(record), {"time", "level", "message"})
            self.assertRegex(record["time"], rf"^{ISO_Z}$")
            self.assertIn(record["level"], ("info", "warning", "error"))
        self.assertTrue(any(json.loads(line)["message"].startswith("Starting localproxy") for line in lines))
        self.assertNotIn(TOKEN, text)

    def test_a_bad_log_format_is_a_usage_error(self):
        r = run([LOCALPROXY, "-s", "1", "-r", "us-east-1", "--log-format", "xml"],
                env=dict(os.environ, AWSIOT_TUNNEL_ACCESS_TOKEN=TOKEN))
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "localproxy: --log-format: expected plain, journal or json\n")

    def test_status_line_after_a_transfer(self):
        quick = {"tunneling": {"proxy": {"status_period_ms": 300, "websocket": {"ping_period_ms": 100}}}}
        src, dst, ports = self.start_pair(f"SSH={self.echo.port}", f"SSH={free_port()}", ["SSH"], settings=quick)
        data = os.urandom(300000)
        self.assertEqual(sha256(echo_roundtrip(ports[0], data)), sha256(data))
        held = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        held.sendall(b"x")
        self.assertEqual(held.recv(1), b"x")
        line_rx = (r"status: connected (\d+s|\d+m\d\ds), rtt [0-9.]+ ms, connections SSH (\d+) \((\d+) opened\); "
                   r"since last: ([0-9.]+ [kMG]?B) in, ([0-9.]+ [kMG]?B) out; total ([0-9.]+) kB in, ([0-9.]+) kB out")
        after = len(src.text())
        m = src.wait_for(line_rx, timeout=10, after=after)
        # The echoed 300 kB came from the service and went to it (plus framing); one connection is
        # live, the finished one is not counted.
        self.assertEqual(m.group(2, 3), ("1", "2"))
        self.assertGreaterEqual(float(m.group(6)), 300.0)
        self.assertGreaterEqual(float(m.group(7)), 300.0)
        # Nothing moves: the next line says so, and the totals stay.
        m2 = src.wait_for(line_rx, timeout=10, after=m.end())
        self.assertEqual(m2.group(4, 5), ("0 B", "0 B"))
        self.assertEqual(m2.group(6, 7), m.group(6, 7))
        held.close()
        m3 = src.wait_for(r"status: connected \S+, rtt [0-9.]+ ms, connections SSH 0 \(2 opened\);", timeout=10, after=m2.end())
        self.assertTrue(m3)
        # The destination counts its side the same way.
        self.assertTrue(dst.wait_for(r"status: connected \S+, rtt [0-9.]+ ms, connections SSH 0 \(2 opened\); since last", 10))


class DefaultConfigDir(Harness):
    def test_an_app_yaml_in_config_does_not_stop_a_proxy(self):
        self.start_service()
        echo = self.echo_server()
        os.makedirs(os.path.join(self.dir, "config"))
        with open(os.path.join(self.dir, "config", "app.yaml"), "w") as f:
            f.write("server:\n  port: 80\n")
        src, dst, ports = self.start_pair(str(echo.port), str(free_port()), [])
        self.assertEqual(echo_roundtrip(ports[0], b"through"), b"through")
        self.assertNotIn("app.yaml", src.text() + dst.text())
        # A named mapping may take more from ./config: the file is read and skipped, with a warning.
        t = self.open_tunnel(["SSH"])
        p = self.start_proxy("named", ["-d", f"SSH={echo.port}"], t["destinationAccessToken"])
        self.wait_connected(p)
        self.assertRegex(p.text(), r"\[warning\] config file \./config/app\.yaml line 1: .*file skipped \(\./config "
                                   r"is read by default for service mappings; give --config-dir DIR")


class TunnelServiceErrors(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lp-svc-")

    def tearDown(self):
        subprocess.run(["rm", "-rf", self.dir], timeout=30)

    def test_a_port_in_use_is_one_line_and_nothing_says_listening(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            for args, option in ((["--listen", f"127.0.0.1:{port}"], "--listen"),
                                 (["--listen", "127.0.0.1:0", "--api", f"127.0.0.1:{port}"], "--api")):
                r = run([TUNNEL_SERVICE, "--plain", *args])
                self.assertEqual(r.returncode, 2)
                self.assertEqual(r.stdout, "")  # not even the --listen port that was bound
                self.assertEqual(r.stderr, f"tunnel-service: {option} 127.0.0.1:{port}: the address is already in use\n")

    def test_a_bad_receive_buffer_is_one_line(self):
        for value in ("0", "4095", "-1", "64k", ""):
            r = run([TUNNEL_SERVICE, "--plain", "--listen", "127.0.0.1:0", "--receive-buffer", value])
            self.assertEqual(r.returncode, 2, value)
            self.assertEqual(r.stdout, "")
            self.assertEqual(r.stderr, "tunnel-service: --receive-buffer: expected a number of bytes, at least 4096\n")

    def test_an_unusable_self_signed_directory_is_one_line(self):
        blocker = os.path.join(self.dir, "file")
        open(blocker, "w").close()
        for d, expected in ((blocker, "not a directory"),
                            (os.path.join(blocker, "sub"), f"cannot create {blocker}/sub/ca (Not a directory)")):
            r = run([TUNNEL_SERVICE, "--self-signed", d, "--listen", "127.0.0.1:0"])
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stderr, f"tunnel-service: --self-signed {d}: {expected}\n")
            self.assertNotIn("boost", r.stderr.lower())

    def test_a_broken_certificate_is_one_line(self):
        d = os.path.join(self.dir, "certs")
        os.makedirs(d)
        for name in ("ca.pem", "server.pem", "server.key"):
            with open(os.path.join(d, name), "w") as f:
                f.write("not a PEM file\n")
        r = run([TUNNEL_SERVICE, "--self-signed", d, "--listen", "127.0.0.1:0"])
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, rf"^tunnel-service: --self-signed {re.escape(d)}: cannot load the certificate "
                                   rf"{re.escape(d)}/server.pem \([^\n]*\)\n$")
        self.assertNotIn(".hpp", r.stderr)

    def test_the_keys_it_writes_are_private(self):
        d = os.path.join(self.dir, "certs")
        old = os.umask(0o022)
        try:
            svc = Proc("tunnel-service", [TUNNEL_SERVICE, "--self-signed", d, "--listen", "127.0.0.1:0"], self.dir)
        finally:
            os.umask(old)
        try:
            svc.wait_for(r"tunnel-service listening on wss://")
        finally:
            svc.stop()
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, "server.key")).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, "server.pem")).st_mode), 0o644)


if __name__ == "__main__":
    unittest.main()
