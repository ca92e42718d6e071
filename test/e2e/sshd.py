"""A real OpenSSH server on loopback for the e2e tests (keys and settings in the test's own
directory: nothing outside it is touched), and ssh/scp clients that reach it through a tunnel."""
import hashlib
import os
import shutil
import subprocess
import unittest

from harness import Harness, Proc, free_port

SSHD = "/usr/sbin/sshd"
SSH = shutil.which("ssh")

needs_ssh = unittest.skipUnless(os.path.exists(SSHD) and SSH and os.geteuid() == 0,
                                "needs openssh-server, openssh-client and root")


class SshHarness(Harness):
    """A tunnel-service and an sshd on 127.0.0.1:self.sshd_port that accepts the key self.dir/user."""

    def setUp(self):
        super().setUp()
        self.start_service()
        for key in ("host", "user"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(self.dir, key)], check=True)
        shutil.copy(os.path.join(self.dir, "user.pub"), os.path.join(self.dir, "authorized_keys"))
        os.makedirs("/run/sshd", exist_ok=True)
        self.sshd_port = free_port()
        sshd = Proc("sshd", [SSHD, "-D", "-e", "-p", str(self.sshd_port), "-o", "ListenAddress=127.0.0.1",
                             "-h", os.path.join(self.dir, "host"), "-o", "StrictModes=no",
                             "-o", f"AuthorizedKeysFile={self.dir}/authorized_keys",
                             "-o", f"PidFile={self.dir}/sshd.pid"], self.dir)
        self.procs.append(sshd)
        sshd.wait_for(r"Server listening on 127\.0\.0\.1")

    def ssh_args(self, port=None):
        """Client options (the port, when there is one, is given by the caller: -p for ssh, -P for scp)."""
        return ["-i", os.path.join(self.dir, "user"), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]

    def ssh_command(self, local, command):
        return [SSH, "-p", str(local)] + self.ssh_args(local) + ["root@127.0.0.1", command]

    def logs(self):
        return "\n".join(f"--- {p.name} ---\n{p.tail(20)}" for p in self.procs if p.name in ("source", "destination"))

    @staticmethod
    def kill_client(p):
        if p.poll() is None:
            p.kill()
            p.wait(5)

    def copy_intact(self, size, connect_args, name="copied.bin", env=None):
        """scp's a random file of `size` bytes to the server (reached with connect_args, e.g. -P PORT
        or -o ProxyCommand=...; env: scp's environment, which a ProxyCommand inherits) and checks
        what arrived by its sha256. Returns scp's result."""
        data = os.urandom(size)
        source = os.path.join(self.dir, "big.bin")
        with open(source, "wb") as f:
            f.write(data)
        target = os.path.join(self.dir, name)
        scp = subprocess.run(["scp", "-q"] + list(connect_args) + self.ssh_args() + [source, f"root@127.0.0.1:{target}"],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)
        self.assertEqual(scp.returncode, 0, scp.stderr + self.logs())
        with open(target, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(data).hexdigest())
        return scp

    def scp_intact(self, local, size):
        self.copy_intact(size, ["-P", str(local)])
