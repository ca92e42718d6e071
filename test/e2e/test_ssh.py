"""A real OpenSSH session and an scp through the tunnel (sshd on loopback, keys in the test's own
directory: nothing outside it is touched)."""
import hashlib
import os
import shutil
import subprocess
import unittest

from harness import Harness, Proc, free_port

SSHD = "/usr/sbin/sshd"
SSH = shutil.which("ssh")


@unittest.skipUnless(os.path.exists(SSHD) and SSH and os.geteuid() == 0, "needs openssh-server, openssh-client and root")
class Ssh(Harness):
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

    def ssh_args(self, port):
        return ["-i", os.path.join(self.dir, "user"), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]

    def test_ssh_session_and_scp_through_the_tunnel(self):
        local = free_port()
        self.start_pair(f"SSH={self.sshd_port}", f"SSH={local}", ["SSH"])
        out = subprocess.run([SSH, "-p", str(local)] + self.ssh_args(local) + ["root@127.0.0.1", "echo tunnel-ok; uname -s"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split(), ["tunnel-ok", "Linux"])
        data = os.urandom(8 * 1024 * 1024)
        source = os.path.join(self.dir, "big.bin")
        with open(source, "wb") as f:
            f.write(data)
        target = os.path.join(self.dir, "copied.bin")
        scp = subprocess.run(["scp", "-q", "-P", str(local)] + self.ssh_args(local) + [source, f"root@127.0.0.1:{target}"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(scp.returncode, 0, scp.stderr)
        with open(target, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(data).hexdigest())


if __name__ == "__main__":
    unittest.main()
