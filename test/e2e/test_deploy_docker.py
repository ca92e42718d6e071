"""The Docker image as a destination on the host network, against tunnel-service on loopback.

Run by scripts/test-docker.sh, which starts dockerd and builds the image; skipped otherwise."""
import os
import subprocess
import time
import unittest

from harness import Harness, echo_roundtrip, free_port, sha256

IMAGE = os.environ.get("LOCALPROXY_DOCKER_IMAGE")
DOCKER = os.environ.get("LOCALPROXY_DOCKER", "/usr/bin/docker")


def docker(*args, timeout=60, check=True):
    r = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


@unittest.skipUnless(IMAGE, "no image: run scripts/test-docker.sh")
class DockerDestination(Harness):
    def setUp(self):
        super().setUp()
        self.start_service()
        self.containers = []

    def tearDown(self):
        for c in self.containers:
            docker("rm", "-f", c, check=False)
        super().tearDown()

    def run_destination(self, token, echo_port):
        os.chmod(self.dir, 0o755)  # the container's user reads the CA the service made
        for root, dirs, files in os.walk(os.path.join(self.dir, "certs")):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        settings = self.settings_file({"tunneling": {"proxy": {"status_period_ms": 1000}}})
        os.chmod(settings, 0o644)
        c = docker("run", "-d", "--label", "localproxy-test", "--network", "host",
                   "--health-interval", "1s", "--health-start-period", "1s", "--health-retries", "3",
                   "-e", f"AWSIOT_TUNNEL_ACCESS_TOKEN={token}",
                   "-v", f"{self.dir}/certs/ca:/ca:ro", "-v", f"{settings}:/settings.json:ro",
                   IMAGE, "-d", f"SSH=127.0.0.1:{echo_port}", "-e", f"localhost:{self.service_port}", "-c", "/ca",
                   "--settings-json", "/settings.json").stdout.strip()
        self.containers.append(c)
        return c

    def wait_health(self, c, wanted, timeout=60.0):
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = docker("inspect", "-f", "{{.State.Health.Status}}", c).stdout.strip()
            if status == wanted:
                return
            time.sleep(0.5)
        raise AssertionError(f"health {status!r}, not {wanted!r}, after {timeout}s:\n{docker('logs', c).stderr[-3000:]}")

    def test_image_carries_a_tunnel_as_non_root_turns_healthy_and_stops_fast(self):
        echo = self.echo_server()
        t = self.open_tunnel(["SSH"])
        c = self.run_destination(t["destinationAccessToken"], echo.port)
        self.wait_health(c, "healthy")
        logs = docker("logs", c).stderr
        self.assertIn("Successfully established websocket connection", logs)
        self.assertNotIn(t["destinationAccessToken"], logs)

        src = self.start_proxy("source", ["-s", f"SSH={free_port()}"], t["sourceAccessToken"])
        port = self.wait_listening(src, 1)[0]
        data = os.urandom(8 * 1024 * 1024)
        self.assertEqual(sha256(echo_roundtrip(port, data, timeout=120)), sha256(data))

        uid = docker("exec", c, "id", "-u").stdout.strip()
        self.assertNotEqual(uid, "0")
        self.assertEqual(uid, "10001")
        environ = docker("exec", c, "cat", "/proc/1/environ").stdout
        self.assertNotIn(t["destinationAccessToken"], environ)

        start = time.monotonic()
        docker("stop", "-t", "10", c, timeout=30)
        took = time.monotonic() - start
        self.assertEqual(docker("inspect", "-f", "{{.State.ExitCode}}", c).stdout.strip(), "0")
        self.assertLess(took, 3.0, "SIGTERM to PID 1 should end it within a second")

    @unittest.skipUnless(os.environ.get("LOCALPROXY_DOCKER_BASE"), "base image unknown")
    def test_image_adds_at_most_15_mb_to_its_base(self):
        size = lambda image: int(docker("image", "inspect", "-f", "{{.Size}}", image).stdout)
        added = size(IMAGE) - size(os.environ["LOCALPROXY_DOCKER_BASE"])
        self.assertLessEqual(added, 15 * 1000 * 1000, f"the image adds {added} bytes")

    def test_unhealthy_while_the_tunnel_is_down(self):
        echo = self.echo_server()
        t = self.open_tunnel(["SSH"])
        c = self.run_destination(t["destinationAccessToken"], echo.port)
        self.wait_health(c, "healthy")
        self.service.stop()  # the service goes away: the proxy reconnects in vain
        self.wait_health(c, "unhealthy", timeout=60)
        self.assertEqual(docker("inspect", "-f", "{{.State.Running}}", c).stdout.strip(), "true")


if __name__ == "__main__":
    unittest.main()
