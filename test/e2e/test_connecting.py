"""Connecting to the service: certificate verification, -k, silent servers, subprotocols, retries."""
import os
import socket
import threading
import time
import unittest

from harness import LOCALPROXY, Harness, Proc, echo_roundtrip, free_port, sha256


class Connecting(Harness):
    def start_raw(self, name, args, settings=None, token="tok"):
        path = self.settings_file(settings)
        p = Proc(name, [LOCALPROXY] + args + ["--settings-json", path], self.dir,
                 env={"AWSIOT_TUNNEL_ACCESS_TOKEN": token})
        self.procs.append(p)
        return p

    def test_local_mistakes_are_reported_before_the_token_is_spent(self):
        self.start_service()
        echo = self.echo_server()
        t = self.open_tunnel([])
        dst = self.start_proxy("destination", ["-d", str(echo.port)], t["destinationAccessToken"])
        self.wait_connected(dst)
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        mistakes = [(["-s", str(port)], rf"cannot listen on localhost port {port} for the service: Address already in use"),
                    (["-s", str(free_port()), "-b", "not_an_addr!"], r"cannot resolve bind address not_an_addr!")]
        for i, (args, rx) in enumerate(mistakes):
            src = self.start_proxy(f"source-mistake-{i}", args, t["sourceAccessToken"])
            self.assertEqual(src.wait_exit(10), 2, src.tail())
            errors = [line for line in src.text().splitlines() if "[error]" in line or "[fatal]" in line]
            self.assertEqual(len(errors), 1, src.text())
            self.assertRegex(errors[0], rx + r".*the access token is still unused")
            self.assertNotIn("Successfully established", src.text())
        busy.close()
        # the same single-use token (no client token was sent) still works
        src = self.start_proxy("source", ["-s", str(free_port())], t["sourceAccessToken"])
        ports = self.wait_listening(src, 1)
        self.assertEqual(echo_roundtrip(ports[0], b"still unused"), b"still unused")

    def test_untrusted_certificate_is_refused_and_k_accepts_it(self):
        self.start_service()
        t = self.open_tunnel(["SSH"])
        refused = self.start_raw("untrusted", ["-s", str(free_port()), "-e", f"localhost:{self.service_port}"],
                                 {"tunneling": {"proxy": {"websocket": {"connect_retry_count": 0}}}},
                                 t["sourceAccessToken"])
        self.assertEqual(refused.wait_exit(15), 1, refused.tail())
        self.assertIn("certificate verify failed", refused.text())
        echo = self.echo_server()
        dst = self.start_proxy("destination", ["-d", str(echo.port)], t["destinationAccessToken"])
        dst.wait_for(r"Successfully established websocket connection")
        src = self.start_raw("insecure", ["-s", str(free_port()), "-e", f"localhost:{self.service_port}", "-k"],
                             None, t["sourceAccessToken"])
        src.wait_for(r"verification is OFF")
        port = self.wait_listening(src, 1)[0]
        data = os.urandom(100000)
        self.assertEqual(sha256(echo_roundtrip(port, data)), sha256(data))

    def test_wrong_host_name_is_refused(self):
        self.start_service()
        t = self.open_tunnel(["SSH"])
        # the certificate names localhost, 127.0.0.1 and ::1; 127.0.0.2 is none of them
        p = self.start_raw("wrong-name", ["-s", str(free_port()), "-e", f"127.0.0.2:{self.service_port}", "-c",
                                          os.path.join(self.dir, "certs", "ca")],
                           {"tunneling": {"proxy": {"websocket": {"connect_retry_count": 0}}}}, t["sourceAccessToken"])
        self.assertEqual(p.wait_exit(15), 1, p.tail())

    def test_server_that_never_answers_times_out_and_retries(self):
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        held = []
        threading.Thread(target=lambda: [held.append(silent.accept()) for _ in range(16)], daemon=True).start()
        t0 = time.monotonic()
        p = self.start_raw("silent", ["-s", str(free_port()), "-e", f"localhost:{silent.getsockname()[1]}"],
                           {"tunneling": {"proxy": {"websocket": {"connect_retry_count": 1, "handshake_timeout_ms": 400,
                                                                   "retry_delay_ms": 100}}}})
        self.assertEqual(p.wait_exit(15), 1, p.tail())
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(p.text().count("timed out"), 2, p.tail())
        silent.close()

    def test_plain_ws_endpoint_warns(self):
        self.start_service(plain=True)
        echo = self.echo_server()
        src, dst, ports = self.start_pair(str(echo.port), str(free_port()), ["SSH"])
        self.assertIn("unencrypted", src.text())
        data = os.urandom(100000)
        self.assertEqual(sha256(echo_roundtrip(ports[0], data)), sha256(data))

    def test_subprotocol_v2_setting(self):
        self.start_service()
        echo = self.echo_server()
        v2 = {"tunneling": {"proxy": {"websocket": {"subprotocol": "aws.iot.securetunneling-2.0"}}}}
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"], settings=v2,
                                          src_extra=["-y", "V2"])
        data = os.urandom(100000)
        self.assertEqual(sha256(echo_roundtrip(ports[0], data)), sha256(data))

    def test_client_token_lets_the_same_access_token_reconnect(self):
        self.start_service()
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"])
        mark = len(dst.text())
        status, _ = self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/drop?side=destination")
        self.assertEqual(status, 200)
        dst.wait_for(r"Successfully established websocket connection", timeout=15, after=mark)
        self.assert_echo_recovers(ports[0], 100000)


if __name__ == "__main__":
    unittest.main()
