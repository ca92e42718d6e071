"""Real OpenSSH sessions and scp through the tunnel (sshd on loopback, keys in the test's own
directory: nothing outside it is touched): a named service, and a tunnel without services used
the README's unnamed way (-s PORT / -d PORT) with many sessions one after another and at once."""
import subprocess
import time
import unittest

from harness import free_port, payload_size
from sshd import SSH, SshHarness, needs_ssh


@needs_ssh
class Ssh(SshHarness):
    def test_ssh_session_and_scp_through_the_tunnel(self):
        local = free_port()
        self.start_pair(f"SSH={self.sshd_port}", f"SSH={local}", ["SSH"])
        out = subprocess.run([SSH, "-p", str(local)] + self.ssh_args(local) + ["root@127.0.0.1", "echo tunnel-ok; uname -s"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split(), ["tunnel-ok", "Linux"])
        self.scp_intact(local, payload_size(8 * 1024 * 1024))

    def test_unnamed_tunnel_many_ssh_sessions_and_scp(self):
        """Unnamed tunnel (-s PORT / -d PORT): every ssh session works, not only the first.

        The tunnel is opened without services and mapped the README's way."""
        local = free_port()
        self.start_pair(str(self.sshd_port), str(local), [])
        for n in range(20):  # one after another
            try:
                out = subprocess.run(self.ssh_command(local, f"echo session-{n}"), capture_output=True, text=True,
                                     timeout=30)
            except subprocess.TimeoutExpired:
                self.fail(f"ssh session {n} of 20 (one after another) hangs\n{self.logs()}")
            self.assertEqual(out.returncode, 0, f"ssh session {n} of 20: {out.stderr}\n{self.logs()}")
            self.assertEqual(out.stdout.split(), [f"session-{n}"], f"ssh session {n} of 20")
        sessions = [subprocess.Popen(self.ssh_command(local, f"echo parallel-{n}; sleep 0.5; echo done-{n}"),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     text=True)
                    for n in range(8)]  # at once: each is still open while the others start
        for p in sessions:
            self.addCleanup(self.kill_client, p)
        deadline = time.monotonic() + 40
        problems = []
        for n, p in enumerate(sessions):
            try:
                stdout, stderr = p.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                problems.append(f"session {n} of 8 (at once) hangs")
                continue
            if p.returncode != 0 or stdout.split() != [f"parallel-{n}", f"done-{n}"]:
                problems.append(f"session {n} of 8 (at once): status {p.returncode}, output {stdout!r}, "
                                f"{stderr.strip()!r}")
        self.assertEqual(problems, [], self.logs())
        self.scp_intact(local, payload_size(8 * 1024 * 1024))


if __name__ == "__main__":
    unittest.main()
