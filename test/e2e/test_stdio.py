"""--stdio: one connection over stdin/stdout. A real ssh with a ProxyCommand reaches a real sshd
three times in a row with one single-use access token (the client token is kept between runs);
bytes through an echo destination, with nothing but them on stdout; the exit statuses."""
import os
import select
import shlex
import signal
import stat
import subprocess
import threading
import time

from harness import LOCALPROXY, EchoServer, Harness, sha256
from sshd import SSH, SshHarness, needs_ssh


class StdioRuns:
    """Runs `localproxy --stdio` with the test's settings and its own runtime directory."""

    def stdio_args(self, service=None, extra=(), settings=None):
        args = [LOCALPROXY] + self.endpoint_args() + ["--settings-json", self.settings_file(settings), "--stdio"]
        return args + ([service] if service else []) + list(extra)

    def stdio_env(self, token):
        env = dict(os.environ)
        env.update({"AWSIOT_TUNNEL_ACCESS_TOKEN": token, "XDG_RUNTIME_DIR": os.path.join(self.dir, "xdg")})
        env.pop("AWSIOT_TUNNEL_CLIENT_TOKEN", None)
        return env

    def run_stdio(self, token, data=b"", service=None, extra=(), settings=None, timeout=60):
        return subprocess.run(self.stdio_args(service, extra, settings), input=data, capture_output=True,
                              env=self.stdio_env(token), timeout=timeout, cwd=self.dir)

    def kept_tokens(self):
        d = os.path.join(self.dir, "xdg", "localproxy")
        return d, sorted(os.listdir(d)) if os.path.isdir(d) else []


class Stdio(StdioRuns, Harness):
    def setUp(self):
        super().setUp()
        self.start_service()

    def destination(self, services, mapping):
        t = self.open_tunnel(services)
        dst = self.start_proxy("destination", ["-d", mapping], t["destinationAccessToken"])
        self.wait_connected(dst)
        return t

    def test_bytes_cross_and_stdout_holds_only_them_when_the_destination_ends(self):
        data = os.urandom(300000)

        def echo_then_close(conn):  # the destination's application ends the connection
            got = 0
            while got < len(data):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                conn.sendall(chunk)
                got += len(chunk)

        echo = self.echo_server(handler=echo_then_close)
        t = self.destination([], str(echo.port))
        # The most verbose log level: every line of it must go to stderr, none to stdout.
        out = self.run_stdio(t["sourceAccessToken"], data, extra=["-v", "6"],
                             settings={"tunneling": {"proxy": {"tcp": {"half_close_linger_ms": 60000}}}})
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])
        self.assertEqual(len(out.stdout), len(data))
        self.assertEqual(sha256(out.stdout), sha256(data))
        err = out.stderr.decode()
        self.assertIn("[trace] Sending DATA", err)
        self.assertIn("closed by the peer", err)

    def test_stdin_eof_then_the_reply_then_status_0_and_quiet_by_default(self):
        echo = self.echo_server()  # never ends a connection itself
        t = self.destination(["ECHO"], f"ECHO={echo.port}")
        started = time.monotonic()
        out = self.run_stdio(t["sourceAccessToken"], b"request then EOF\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, b"request then EOF\n")  # carried after stdin's end (the linger)
        self.assertLess(time.monotonic() - started, 30)
        # Quiet by default (stderr is the ssh user's terminal): warnings and errors only.
        levels = {line.split(b"] [", 1)[1].split(b"]", 1)[0] for line in out.stderr.splitlines()}
        self.assertLessEqual(levels, {b"warning", b"error"}, out.stderr)
        verbose = self.run_stdio(t["sourceAccessToken"], b"x", extra=["-v", "4"])
        self.assertEqual(verbose.returncode, 0, verbose.stderr)
        self.assertEqual(verbose.stdout, b"x")
        self.assertIn(b"[info] Opened service ECHO stream", verbose.stderr)

    def test_runs_reuse_the_access_token_and_an_explicit_client_token_wins(self):
        echo = self.echo_server()
        t = self.destination(["ECHO"], f"ECHO={echo.port}")
        for n in range(3):
            out = self.run_stdio(t["sourceAccessToken"], f"run {n}".encode(), "ECHO")
            self.assertEqual((out.returncode, out.stdout), (0, f"run {n}".encode()), out.stderr)
        directory, files = self.kept_tokens()
        self.assertEqual(len(files), 1, files)
        kept = os.path.join(directory, files[0])
        self.assertEqual(stat.S_IMODE(os.stat(directory).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(kept).st_mode), 0o600)
        self.assertNotIn(t["sourceAccessToken"], files[0])
        with open(kept) as f:
            token = f.read().strip()
        # The explicit one is used (and refused: the access token belongs to the kept one).
        out = self.run_stdio(t["sourceAccessToken"], b"x", "ECHO", extra=["-i", "0123456789abcdef0123456789abcdef"])
        self.assertEqual(out.returncode, 3, out.stderr)
        self.assertEqual(out.stdout, b"")
        self.assertIn(b"client token does not match", out.stderr)
        with open(kept) as f:
            self.assertEqual(f.read().strip(), token)

    def test_service_choice_mistakes_are_usage_errors(self):
        t = self.destination(["SSH", "WEB"], f"SSH={self.echo_server().port},WEB={self.echo_server().port}")
        out = self.run_stdio(t["sourceAccessToken"], b"x")
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn(b"the tunnel has services SSH, WEB; name the one to carry, e.g. --stdio SSH", out.stderr)
        self.assertEqual(out.stdout, b"")
        out = self.run_stdio(t["sourceAccessToken"], b"x", "RDP")
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn(b"--stdio RDP: the tunnel has no such service (it has SSH, WEB)", out.stderr)
        self.assertEqual(out.stdout, b"")
        self.assertEqual(out.stderr.count(b"[error]"), 1, out.stderr)
        out = self.run_stdio(t["sourceAccessToken"], b"web", "WEB")  # the kept client token: still usable
        self.assertEqual((out.returncode, out.stdout), (0, b"web"), out.stderr)

    def test_a_rejected_token_exits_3_and_a_lost_tunnel_exits_1(self):
        echo = self.echo_server()
        t = self.destination([], str(echo.port))
        out = self.run_stdio("not-the-token", b"x")
        self.assertEqual((out.returncode, out.stdout), (3, b""), out.stderr)
        p = self.open_stdio(t["sourceAccessToken"], b"ping")
        status, body = self.api("POST", f"/tunnels/{t['tunnelId']}/drop?side=source")
        self.assertEqual(status, 200, body)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn(b"not reconnecting", err)

    def open_stdio(self, token, first_bytes):
        """A --stdio proxy kept open; returns it once first_bytes came back through the echo."""
        p = subprocess.Popen(self.stdio_args(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.stdio_env(token), cwd=self.dir)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.communicate(timeout=5)))
        p.stdin.write(first_bytes)
        p.stdin.flush()
        ready, _, _ = select.select([p.stdout], [], [], 30)
        self.assertTrue(ready, "no echo within 30 s")
        self.assertEqual(os.read(p.stdout.fileno(), len(first_bytes)), first_bytes)
        return p

    def test_sighup_resets_the_connection_before_the_close_and_the_destination_ends_its_side(self):
        """ssh ends its ProxyCommand with SIGHUP: the destination hears of the connection's end (its
        reset goes out before the WebSocket closes; the service tells the destination nothing when
        the source leaves) and closes its application's connection."""
        app_closed = threading.Event()

        def echo_then_note_the_end(conn):
            EchoServer.echo(conn)
            app_closed.set()

        echo = self.echo_server(handler=echo_then_note_the_end)
        t = self.open_tunnel([])
        dst = self.start_proxy("destination", ["-d", str(echo.port)], t["destinationAccessToken"])
        self.wait_connected(dst)
        p = self.open_stdio(t["sourceAccessToken"], b"ping")  # stdin stays open: no end of its own
        p.send_signal(signal.SIGHUP)
        self.assertEqual(p.wait(timeout=30), 0)
        _, err = p.communicate(timeout=10)
        self.assertNotIn(b"[error]", err)
        dst.wait_for(r"Disconnected from: the service stream \d+ connection 1, closed by the peer", timeout=15)
        self.assertTrue(app_closed.wait(15), "the destination's application connection stayed open")

    def test_a_second_run_at_once_replaces_the_first(self):
        """What the README says: the service keeps one source, so two --stdio runs at once do not mix."""
        t = self.destination([], str(self.echo_server().port))
        first = self.open_stdio(t["sourceAccessToken"], b"first")
        second = self.open_stdio(t["sourceAccessToken"], b"second")
        _, err = first.communicate(timeout=30)
        self.assertEqual(first.returncode, 1, err)
        out, err = second.communicate(b"still here", timeout=60)
        self.assertEqual((second.returncode, out), (0, b"still here"), err)


@needs_ssh
class SshProxyCommand(StdioRuns, SshHarness):
    pids = None

    def tearDown(self):
        self.wait_proxies_gone(0)  # before the test directory (and the PID list) goes
        super().tearDown()

    def proxy_command(self):
        """The ProxyCommand: a wrapper that records its PID (so the test can see each run end), then
        becomes `localproxy --stdio SSH`."""
        wrapper = os.path.join(self.dir, "stdio-proxy")
        self.pids = os.path.join(self.dir, "stdio-proxy.pids")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\necho $$ >> {shlex.quote(self.pids)}\nexec {shlex.quote(LOCALPROXY)} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        return " ".join(shlex.quote(a) for a in [wrapper] + self.stdio_args("SSH")[1:])

    def wait_proxies_gone(self, within=15.0):
        """Waits (bounded) for every localproxy the ProxyCommand started to end; kills and returns
        the ones that did not."""
        if not self.pids or not os.path.exists(self.pids):
            return []
        with open(self.pids) as f:
            pids = [int(line) for line in f if line.strip()]
        deadline = time.monotonic() + within
        for pid in pids:
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        left = [pid for pid in pids if alive(pid)]
        for pid in left:
            os.kill(pid, 9)
        return left

    def test_ssh_and_scp_three_times_in_a_row_with_one_access_token(self):
        t = self.open_tunnel(["SSH"])
        dst = self.start_proxy("destination", ["-d", f"SSH={self.sshd_port}"], t["destinationAccessToken"])
        self.wait_connected(dst)
        proxy = ["-o", f"ProxyCommand={self.proxy_command()}"]
        env = self.stdio_env(t["sourceAccessToken"])
        for n in range(3):
            out = subprocess.run([SSH] + proxy + self.ssh_args() + ["root@127.0.0.1", f"echo run-{n}; uname -s"],
                                 capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
            self.assertEqual(out.returncode, 0, out.stderr + self.logs())
            self.assertEqual(out.stdout.split(), [f"run-{n}", "Linux"])
            self.assertNotIn("[info]", out.stderr)  # the proxy's stderr is ssh's: quiet
            scp = self.copy_intact(2 * 1024 * 1024, proxy, f"copied-{n}.bin", env=env)
            self.assertNotIn("[info]", scp.stderr)
            self.assertEqual(self.wait_proxies_gone(), [], "a localproxy --stdio outlived its ssh")
        self.assertEqual(len(self.kept_tokens()[1]), 1)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    import unittest
    unittest.main()
