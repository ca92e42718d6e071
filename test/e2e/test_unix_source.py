"""Source listeners on Unix sockets (-s SSH=/path/x.sock): Python clients over AF_UNIX one after
another and at once, ssh through socat to a real sshd, the socket's mode, a stale socket file
replaced, a live one or a non-socket refused before the service is contacted, socket activation
with an AF_UNIX socket, and the file removed on exit."""
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
import unittest

from harness import LOCALPROXY, Harness, Proc, echo_roundtrip, sha256
from sshd import SSH, SshHarness, needs_ssh


def mode_of(path):
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode), path
    return stat.S_IMODE(st.st_mode)


class UnixSource(Harness):
    def setUp(self):
        super().setUp()
        self.start_service()
        self.echo = self.echo_server()
        self.path = os.path.join(self.dir, "echo.sock")

    def tunnel_with_destination(self, services=("ECHO",)):
        t = self.open_tunnel(list(services))
        mapping = f"ECHO={self.echo.port}" if services else str(self.echo.port)
        self.wait_connected(self.start_proxy("destination", ["-d", mapping], t["destinationAccessToken"]))
        return t

    def unix_source(self, t, mapping, settings=None):
        src = self.start_proxy("source", ["-s", mapping], t["sourceAccessToken"], settings)
        src.wait_for(f"Listening for new connection on {self.path}")
        return src

    def test_clients_one_after_another_and_at_once_then_the_file_is_removed(self):
        t = self.tunnel_with_destination()
        src = self.unix_source(t, f"ECHO={self.path}")
        self.assertEqual(mode_of(self.path), 0o600)
        for n in range(10):
            data = os.urandom(50000 + n)
            self.assertEqual(sha256(echo_roundtrip(self.path, data)), sha256(data), f"client {n} of 10")
        datas = [os.urandom(200000 + n) for n in range(8)]
        results = [None] * len(datas)

        def client(n):
            results[n] = echo_roundtrip(self.path, datas[n])

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(len(datas))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(90)
        self.assertEqual([sha256(r or b"") for r in results], [sha256(d) for d in datas])
        self.assertRegex(src.text(), r"Accepted connection on .*echo\.sock from pid \d+ \(uid \d+\)")
        src.signal(signal.SIGTERM)
        self.assertEqual(src.wait_exit(), 0)
        self.assertFalse(os.path.lexists(self.path), "the socket file outlived the proxy")

    def test_unnamed_mapping_and_the_mode_setting(self):
        t = self.tunnel_with_destination(())
        self.unix_source(t, self.path, {"tunneling": {"proxy": {"unix_socket_mode": "0660"}}})
        self.assertEqual(mode_of(self.path), 0o660)
        self.assertEqual(echo_roundtrip(self.path, b"unnamed tunnel"), b"unnamed tunnel")

    def test_a_stale_socket_file_is_replaced(self):
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(self.path)  # bound, never listening, then gone: what a killed process leaves
        stale.close()
        self.assertTrue(os.path.lexists(self.path))
        t = self.tunnel_with_destination()
        src = self.unix_source(t, f"ECHO={self.path}")
        self.assertIn(f"Replaced the stale socket file {self.path}", src.text())
        self.assertEqual(echo_roundtrip(self.path, b"after the stale one"), b"after the stale one")

    def test_a_live_socket_or_another_file_is_refused_before_the_token_is_spent(self):
        t = self.tunnel_with_destination()
        live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        live.bind(self.path)
        live.listen(1)
        src = self.start_proxy("refused", ["-s", f"ECHO={self.path}"], t["sourceAccessToken"],
                               extra=["-i", "0123456789abcdef0123456789abcdef"])
        self.assertEqual(src.wait_exit(), 2)
        self.assertIn(f"cannot listen on {self.path} for service ECHO: another process listens on it", src.text())
        self.assertIn("the access token is still unused", src.text())
        live.close()
        os.unlink(self.path)
        with open(self.path, "w") as f:
            f.write("not a socket")
        src = self.start_proxy("refused-file", ["-s", f"ECHO={self.path}"], t["sourceAccessToken"])
        self.assertEqual(src.wait_exit(), 2)
        self.assertIn("the file exists and is not a socket", src.text())
        with open(self.path) as f:
            self.assertEqual(f.read(), "not a socket")  # left alone
        os.unlink(self.path)
        # Nothing was sent to the service: the single-use token works now, with another client token.
        src = self.unix_source(t, f"ECHO={self.path}")
        self.assertEqual(echo_roundtrip(self.path, b"token unspent"), b"token unspent")

    @unittest.skipUnless(shutil.which("systemd-socket-activate"), "systemd-socket-activate not installed (package systemd)")
    def test_a_socket_activated_unix_listener_is_used(self):
        t = self.tunnel_with_destination()
        args = ["systemd-socket-activate", "-l", self.path, "--fdname=ECHO",
                "-E", f"AWSIOT_TUNNEL_ACCESS_TOKEN={t['sourceAccessToken']}", LOCALPROXY, "-s", "ECHO=/nonexistent/x.sock"]
        args += self.endpoint_args() + ["--settings-json", self.settings_file(), "-v", "5"]
        src = Proc("source", args, self.dir)
        self.procs.append(src)
        src.wait_for(r"Listening on .*echo\.sock as ", timeout=10)  # systemd-socket-activate's own line
        data = os.urandom(300000)
        self.assertEqual(sha256(echo_roundtrip(self.path, data, timeout=30)), sha256(data))
        self.assertIn("Using the socket-activated listener ECHO for service ECHO", src.text())
        self.assertEqual(echo_roundtrip(self.path, b"and again"), b"and again")


@needs_ssh
@unittest.skipUnless(shutil.which("socat"), "needs socat")
class SshOverUnixSocket(SshHarness):
    def test_ssh_and_scp_through_socat_to_the_unix_listener(self):
        path = os.path.join(self.dir, "ssh.sock")
        t = self.open_tunnel(["SSH"])
        self.wait_connected(self.start_proxy("destination", ["-d", f"SSH={self.sshd_port}"], t["destinationAccessToken"]))
        src = self.start_proxy("source", ["-s", f"SSH={path}"], t["sourceAccessToken"])
        src.wait_for(f"Listening for new connection on {path}")
        proxy = ["-o", f"ProxyCommand=socat - UNIX-CONNECT:{path}"]
        for n in range(3):
            out = subprocess.run([SSH] + proxy + self.ssh_args() + ["root@127.0.0.1", f"echo unix-{n}; uname -s"],
                                 capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            self.assertEqual(out.returncode, 0, out.stderr + self.logs())
            self.assertEqual(out.stdout.split(), [f"unix-{n}", "Linux"])
        self.copy_intact(4 * 1024 * 1024, proxy)


if __name__ == "__main__":
    unittest.main()
