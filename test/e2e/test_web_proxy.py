"""Reaching the service through HTTP CONNECT proxies: tinyproxy (plain, Basic auth, TLS front),
no_proxy, and a fake proxy that splits its reply, answers 502, or never answers."""
import os
import unittest

from harness import Harness, echo_roundtrip, free_port, sha256
from web_proxies import FakeProxy, start_tinyproxy, start_tls_front, TINYPROXY


@unittest.skipUnless(os.path.exists(TINYPROXY), "tinyproxy is not installed")
class WebProxy(Harness):
    def setUp(self):
        super().setUp()
        self.start_service()

    def check_transfer(self, port, size=1024 * 1024):
        data = os.urandom(size)
        self.assertEqual(sha256(echo_roundtrip(port, data)), sha256(data))

    def test_each_side_behind_its_own_authenticating_proxy(self):
        # tinyproxy's config takes plain words: the URLs percent-encode some letters to test decoding
        src_proxy, _ = start_tinyproxy(self, "proxy-src", "alice", "s3cretpass")
        dst_proxy, _ = start_tinyproxy(self, "proxy-dst", "bob", "another0")
        echo = self.echo_server()
        src, dst, ports = self.start_pair(
            f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"],
            src_extra=["--web-proxy", f"http://alice:s3cr%65tpass@127.0.0.1:{src_proxy}"],
            dst_extra=["--web-proxy", f"http://bob:an%6Fther0@127.0.0.1:{dst_proxy}"])
        self.check_transfer(ports[0], 10 * 1024 * 1024)
        for p in (src, dst):
            self.assertIn("web proxy", p.text().lower())
            self.assertNotIn("s3cretpass", p.text())
            self.assertNotIn("another0", p.text())

    def test_proxy_from_environment_without_auth(self):
        proxy, tp = start_tinyproxy(self, "proxy")
        echo = self.echo_server()
        env_proxy = {"https_proxy": f"127.0.0.1:{proxy}"}  # no scheme means http
        t = self.open_tunnel(["SSH"])
        dst = self.start_proxy("destination", ["-d", str(echo.port)], t["destinationAccessToken"], env=env_proxy)
        dst.wait_for(r"Successfully established websocket connection")
        src = self.start_proxy("source", ["-s", str(free_port())], t["sourceAccessToken"], env=env_proxy)
        self.check_transfer(self.wait_listening(src, 1)[0])
        self.assertIn("CONNECT", tp.text())

    def test_wrong_password_exits_three(self):
        proxy, _ = start_tinyproxy(self, "proxy", "alice", "right")
        self.open_tunnel(["SSH"])
        p = self.start_proxy("source", ["-s", str(free_port()), "--web-proxy", f"http://alice:Wr0ngPa55@127.0.0.1:{proxy}"],
                             "token")
        self.assertEqual(p.wait_exit(15), 3, p.tail())
        # tinyproxy 1.11 answers a wrong password with 401 (later versions: 407); both mean credentials
        self.assertRegex(p.text(), r"CONNECT status: 40[17]")
        self.assertIn("credentials", p.text())
        self.assertNotIn("Wr0ngPa55", p.text())

    def test_https_proxy(self):
        proxy, _ = start_tinyproxy(self, "proxy")
        tls_port = start_tls_front(self, "tls-front", proxy)
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"],
                                          src_extra=["--web-proxy", f"https://localhost:{tls_port}"])
        self.check_transfer(ports[0])

    def test_no_proxy_bypasses_the_proxy(self):
        dead = free_port()  # nothing listens there: using the proxy would fail
        echo = self.echo_server()
        env = {"https_proxy": f"http://127.0.0.1:{dead}", "no_proxy": "example.com,.localhost,localhost"}
        t = self.open_tunnel(["SSH"])
        dst = self.start_proxy("destination", ["-d", str(echo.port)], t["destinationAccessToken"], env=env)
        dst.wait_for(r"Successfully established websocket connection")
        src = self.start_proxy("source", ["-s", str(free_port())], t["sourceAccessToken"], env=env)
        self.check_transfer(self.wait_listening(src, 1)[0])

    def test_reply_in_small_pieces(self):
        fake = FakeProxy("split")
        self.servers.append(fake)
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"],
                                          src_extra=["--web-proxy", f"http://u:p%40ss@127.0.0.1:{fake.port}"])
        self.check_transfer(ports[0])
        request = fake.requests[0]
        self.assertTrue(request.startswith(f"CONNECT localhost:{self.service_port} HTTP/1.1\r\n"), request)
        self.assertIn(f"Host: localhost:{self.service_port}\r\n", request)
        self.assertIn("Proxy-Authorization: Basic dTpwQHNz\r\n", request)

    def retried(self, mode, settings):
        fake = FakeProxy(mode)
        self.servers.append(fake)
        self.open_tunnel(["SSH"])
        p = self.start_proxy("source", ["-s", str(free_port()), "--web-proxy", f"http://127.0.0.1:{fake.port}"],
                             "token", settings=settings)
        self.assertEqual(p.wait_exit(30), 1, p.tail())
        self.assertEqual(len(fake.requests), 3)  # the first attempt and two retries
        return p

    def test_bad_gateway_is_retried(self):
        p = self.retried("502", {"tunneling": {"proxy": {"websocket": {"connect_retry_count": 2}}}})
        self.assertIn("502", p.text())

    def test_silent_proxy_times_out_and_is_retried(self):
        p = self.retried("silent", {"tunneling": {"proxy": {"websocket": {"connect_retry_count": 2,
                                                                           "handshake_timeout_ms": 500}}}})
        self.assertEqual(p.text().count("did not answer CONNECT within 500 ms"), 3, p.tail())


if __name__ == "__main__":
    unittest.main()
