"""A source started without -y finds out that its destination is an older proxy (ours forced to
-y V2 or -y V1 speaks only that format) and keeps working: the first connection carries bytes both
ways, a second one at the same time is refused with a log line, a new one after the first closed
works, and the warning is logged once."""
import os
import re
import socket
import time
import unittest

import threading

from harness import EchoServer, Harness, free_port, peer_binary, sha256
from test_metrics import metric, parse, scrape


def recv_exactly(s, n, timeout=20.0):
    s.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            break
        out.extend(b)
    return bytes(out)


def closed_by_peer(s, timeout=10.0):
    """True when the peer closed s (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class OlderDestination(Harness):
    def run_against(self, version, named):
        self.start_service()
        echo = self.echo_server()
        service = ["SSH"] if named else []
        prefix = "SSH=" if named else ""
        metrics = free_port()
        src, dst, ports = self.start_pair(f"{prefix}{echo.port}", f"{prefix}{free_port()}", service,
                                          dst_extra=["-y", version], src_extra=["--metrics", str(metrics)])
        port = ports[0]
        first = socket.create_connection(("127.0.0.1", port), timeout=20)
        data = os.urandom(300000)
        first.sendall(data[:1000])
        self.assertEqual(recv_exactly(first, 1000), data[:1000])
        src.wait_for(r"\[warning\] The destination is an older localproxy \(protocol V" + version[1] + r"\)")

        second = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.assertTrue(closed_by_peer(second), "the second connection was not refused")
        second.close()
        src.wait_for(r"Refusing connection from 127\.0\.0\.1:\d+: the destination speaks V" + version[1] +
                     r", which carries one connection per service")

        # The first connection still carries bytes both ways.
        first.sendall(data[1000:])
        self.assertEqual(sha256(recv_exactly(first, len(data) - 1000, timeout=60)), sha256(data[1000:]))
        first.close()
        src.wait_for(r"Disconnected from: .* connection 1, closed by the client")

        # After the first closed, a new connection works (a new stream, as V1/V2 have it).
        deadline = time.monotonic() + 20
        while True:
            try:
                third = socket.create_connection(("127.0.0.1", port), timeout=20)
                third.sendall(b"third")
                self.assertEqual(recv_exactly(third, 5, timeout=5), b"third")
                third.close()
                break
            except (AssertionError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        self.assertEqual(len(re.findall(r"The destination is an older localproxy", src.text())), 1, src.tail())
        values = parse(scrape(metrics)[2])
        label = "SSH" if named else ""
        self.assertEqual(metric(values, "localproxy_connections_refused_total", service=label), 1)
        self.assertEqual(metric(values, "localproxy_connections_opened_total", service=label), 2)
        self.assertNotIn("rror", "".join(l for l in src.text().splitlines() if "[error]" in l or "[fatal]" in l))

    def test_second_connection_before_any_answer(self):
        # Both clients connect before the destination said anything: the second goes out as a
        # CONNECTION_START, which the older destination resets; the first goes on.
        self.start_service()
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"], dst_extra=["-y", "V2"])
        first = socket.create_connection(("127.0.0.1", ports[0]), timeout=20)
        src.wait_for(r"Opened service SSH stream \d+ connection 1 ")
        second = socket.create_connection(("127.0.0.1", ports[0]), timeout=20)
        src.wait_for(r"Opened service SSH stream \d+ connection 2 .*CONNECTION_START")
        self.assertTrue(closed_by_peer(second), "the second connection was not refused")
        second.close()
        src.wait_for(r"\[warning\] The destination looks like an older localproxy \(protocol V2\)")
        src.wait_for(r"connection 2, refused: the destination speaks V2, which carries one connection per service")
        data = os.urandom(100000)
        first.sendall(data)
        self.assertEqual(sha256(recv_exactly(first, len(data), timeout=60)), sha256(data))
        first.close()
        self.assertEqual(len(re.findall(r"The destination (is|looks like) an older localproxy", src.text())), 1,
                         src.tail())

    def test_reference_v3_destination_resetting_the_stream_is_not_taken_for_older(self):
        # The reference 3.3.1 answers every start whose application it cannot reach with a
        # STREAM_RESET, as an older proxy answers a CONNECTION_START: once the application is up,
        # its connection IDs show V3 again and connections run side by side.
        dst_binary = peer_binary("destination")
        self.start_service()
        app_port = free_port()
        src, dst, ports = self.start_pair(f"SSH={app_port}", f"SSH={free_port()}", ["SSH"], dst_binary=dst_binary,
                                          settings={"tunneling": {"proxy": {"tcp": {
                                              "connection_retry_count": 1, "connection_retry_delay_ms": 1500}}}})
        a = socket.create_connection(("127.0.0.1", ports[0]), timeout=20)
        src.wait_for(r"Opened service SSH stream \d+ connection 1 ")
        b = socket.create_connection(("127.0.0.1", ports[0]), timeout=20)
        # b went out as CONNECTION_START before the reference gave up on a: its reset looks like an
        # older proxy's answer to that.
        src.wait_for(r"The destination looks like an older localproxy")
        self.assertTrue(closed_by_peer(a) and closed_by_peer(b))
        a.close()
        b.close()
        app = socket.socket()
        app.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        app.bind(("127.0.0.1", app_port))
        app.listen()
        self.servers.append(app)

        def serve():
            for _ in range(2):
                conn = app.accept()[0]
                threading.Thread(target=lambda c=conn: [EchoServer.echo(c), c.close()], daemon=True).start()
        threading.Thread(target=serve, daemon=True).start()
        one = socket.create_connection(("127.0.0.1", ports[0]), timeout=20)
        one.sendall(b"one")
        self.assertEqual(recv_exactly(one, 3), b"one")
        two = socket.create_connection(("127.0.0.1", ports[0]), timeout=20)
        two.sendall(b"two")
        self.assertEqual(recv_exactly(two, 3), b"two")  # side by side: V3 again
        one.close()
        two.close()
        src.wait_for(r"Peer speaks protocol V3")

    def test_v2_destination_named_service(self):
        self.run_against("V2", named=True)

    def test_v1_destination_named_service(self):
        self.run_against("V1", named=True)

    def test_v2_destination_unnamed_tunnel(self):
        self.run_against("V2", named=False)


if __name__ == "__main__":
    unittest.main()
