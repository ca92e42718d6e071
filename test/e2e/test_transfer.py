"""Bytes through a real tunnel: V3/V2/V1, many services and connections, reframing, Unix sockets."""
import os
import re
import socket
import subprocess
import threading
import time
import unittest

from harness import EchoServer, Harness, echo_roundtrip, free_port, free_ports, payload_size, sha256


class Transfer(Harness):
    def setUp(self):
        super().setUp()
        self.start_service()

    def roundtrip_checked(self, port, size):
        data = os.urandom(size)
        back = echo_roundtrip(port, data)
        self.assertEqual(len(back), len(data))
        self.assertEqual(sha256(back), sha256(data))

    def test_v3_transfer_both_ways(self):
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"])
        self.roundtrip_checked(ports[0], payload_size(16 * 1024 * 1024))
        dst.wait_for(r"Peer speaks protocol V3")

    def test_download_from_destination(self):
        payload = os.urandom(payload_size(8 * 1024 * 1024))

        def serve(conn):
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)

        app = self.echo_server(handler=serve)
        src, dst, ports = self.start_pair(str(app.port), str(free_port()), ["WEB"])
        s = socket.create_connection(("127.0.0.1", ports[0]), timeout=30)
        got = bytearray()
        while True:
            b = s.recv(262144)
            if not b:
                break
            got.extend(b)
        s.close()
        self.assertEqual(sha256(bytes(got)), sha256(payload))

    def test_v2_peer(self):
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"], src_extra=["-y", "V2"])
        self.roundtrip_checked(ports[0], payload_size(4 * 1024 * 1024))
        dst.wait_for(r"Peer speaks protocol V2")
        # a second connection after the first ended opens a new stream
        self.roundtrip_checked(ports[0], 100000)

    def test_v1_peer(self):
        echo = self.echo_server()
        src, dst, ports = self.start_pair(str(echo.port), str(free_port()), ["SSH"], src_extra=["-y", "V1"])
        self.roundtrip_checked(ports[0], payload_size(4 * 1024 * 1024))
        dst.wait_for(r"Peer speaks protocol V1")

    def test_v2_second_client_refused_first_unharmed(self):
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"], src_extra=["-y", "V2"])
        first = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        first.sendall(b"hello")
        self.assertEqual(first.recv(5), b"hello")
        second = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        self.assertEqual(second.recv(10), b"")  # closed cleanly
        src.wait_for(r"Refusing connection")
        first.sendall(b"still here")
        self.assertEqual(first.recv(10), b"still here")
        first.close()
        second.close()

    def test_three_services_eight_connections_each_no_cross_talk(self):
        echoes = [self.echo_server() for _ in range(3)]
        names = ["SSH", "WEB", "RDP"]
        dst_map = ",".join(f"{n}={e.port}" for n, e in zip(names, echoes))
        ports = free_ports(len(names))
        src_map = ",".join(f"{n}={p}" for n, p in zip(names, ports))
        self.start_pair(dst_map, src_map, names)
        results = {}

        def one(i, port):
            data = (f"conn-{i}-".encode() * 1000) + os.urandom(200000 + i * 1000)
            results[i] = (sha256(data), sha256(echo_roundtrip(port, data)))

        threads = [threading.Thread(target=one, args=(i, ports[i % 3])) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(len(results), 24)
        for i, (sent, got) in results.items():
            self.assertEqual(sent, got, f"connection {i}")
        self.assertEqual(sum(e.accepted for e in echoes), 24)

    def test_reframing(self):
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"])
        status, _ = self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/reframe?on=1")
        self.assertEqual(status, 200)
        self.roundtrip_checked(ports[0], payload_size(4 * 1024 * 1024))
        for i in range(20):  # many small messages too
            self.roundtrip_checked(ports[0], 1 + i * 37)

    def test_unix_socket_destination(self):
        path = os.path.join(self.dir, "app.sock")
        self.echo_server(unix_path=path)
        src, dst, ports = self.start_pair(f"SSH={path}", f"SSH={free_port()}", ["SSH"])
        self.roundtrip_checked(ports[0], payload_size(1024 * 1024))
        dst.wait_for(r"Connected to " + path)

    def test_half_closing_client_gets_the_reply(self):
        # The protocol has no half-close: the source carries the reply for tcp.half_close_linger_ms.
        reply = os.urandom(300000)

        def answer_later(conn, close_after):
            request = b""
            while len(request) < 7:
                request += conn.recv(7 - len(request))
            time.sleep(0.3)  # the client has shut down its sending side by now
            conn.sendall(reply if request == b"request" else b"?")
            if not close_after:
                time.sleep(10)  # keeps its side open: only the linger ends the connection

        for close_after in (False, True):
            with self.subTest(server_closes=close_after):
                app = self.echo_server(handler=lambda c, close_after=close_after: answer_later(c, close_after))
                src, dst, ports = self.start_pair(str(app.port), str(free_port()), [])
                c = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
                c.sendall(b"request")
                c.shutdown(socket.SHUT_WR)
                t0 = time.monotonic()
                got = bytearray()
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    got.extend(b)
                c.close()
                self.assertEqual(sha256(bytes(got)), sha256(reply))
                if close_after:  # the destination's reset ends the linger early
                    self.assertLess(time.monotonic() - t0, 2.5)
                for p in (src, dst):
                    p.stop()

    def test_many_transfers_at_once_in_the_smallest_budget_all_complete(self):
        # 64 connections each send 1 MiB and read its echo, all at once, through proxies whose
        # budget (tcp.total_buffer_size at its minimum, 256 KiB) holds far less than two read
        # buffers each. Every application reads: nothing may stop for good. (Readers waiting for
        # room while each kept an idle buffer of its own once stopped them all.)
        echo = self.echo_server()
        tcp = {"total_buffer_size": 256 * 1024}
        src, dst, ports = self.start_pair(str(echo.port), str(free_port()), [],
                                          settings={"tunneling": {"proxy": {"tcp": tcp}}})
        payloads = [os.urandom(1024 * 1024) for _ in range(64)]
        results = [None] * len(payloads)

        def transfer(i):
            try:
                results[i] = sha256(echo_roundtrip(ports[0], payloads[i], timeout=60))
            except OSError as e:
                results[i] = repr(e)

        threads = [threading.Thread(target=transfer, args=(i,)) for i in range(len(payloads))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        self.assertEqual(results, [sha256(p) for p in payloads])
        for p in (src, dst):
            self.assertTrue(p.running(), p.name)


class BottleneckLink(Harness):
    """The tunnel's link slower than the applications, as in a deployment: tunnel-service caps the
    tunnel (--bandwidth) and its receive buffers fill and push back (--receive-buffer)."""

    LINK_RATE = 20 << 20  # bytes per second
    DOWNLOAD = 48 << 20  # a few seconds of the link

    def test_each_proxy_connection_gets_the_receive_buffer_asked(self):
        """--receive-buffer reaches both proxies' connections to tunnel-service, as the kernel reports
        them (ss): SO_RCVBUF set before the handshake, which the kernel doubles for its bookkeeping
        and which stops it from growing the buffer. Without it the kernel's default applies (128 KiB
        on Debian) and autotuning grows it under load, so no link fills and pushes back."""
        asked = 40000
        self.start_service(extra=["--receive-buffer", str(asked)])
        app = self.echo_server()
        _, _, ports = self.start_pair(str(app.port), str(free_port()), [])
        self.assertEqual(echo_roundtrip(ports[0], b"x" * 300000), b"x" * 300000)
        out = subprocess.run(["ss", "-t", "-m", "-n", "-H", "state", "established", f"( sport = :{self.service_port} )"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        sizes = [int(m) for m in re.findall(r"\brb(\d+)", out)]
        self.assertEqual(sizes, [2 * asked, 2 * asked], out)

    def test_round_trips_beside_a_download_that_fills_the_link(self):
        """The backlog of a download that fills the link waits where it can be overtaken: each 1-byte
        round trip on a second connection of the same unnamed tunnel comes back within seconds while
        the download still runs, and the download arrives whole. A proxy that queues everything it
        reads from the application in arrival order holds the round trip behind the whole backlog."""
        self.start_service(extra=["--bandwidth", str(self.LINK_RATE), "--receive-buffer", str(64 << 10)])
        payload = os.urandom(self.DOWNLOAD)

        def serve(conn):
            if conn.recv(1) == b"D":
                conn.sendall(payload)
                conn.shutdown(socket.SHUT_WR)
            else:
                EchoServer.echo(conn)

        app = self.echo_server(handler=serve)
        src, dst, ports = self.start_pair(str(app.port), str(free_port()), [])
        download = socket.create_connection(("127.0.0.1", ports[0]), timeout=60)
        download.sendall(b"D")
        got = bytearray()
        flowing = threading.Event()
        done = threading.Event()

        def read_all():
            try:
                while True:
                    b = download.recv(262144)
                    if not b:
                        break
                    got.extend(b)
                    if len(got) >= 1 << 20:
                        flowing.set()
            finally:
                flowing.set()
                done.set()

        reader = threading.Thread(target=read_all, daemon=True)
        reader.start()
        self.assertTrue(flowing.wait(30), "the download did not start")
        self.assertFalse(done.is_set(), f"the download ended after {len(got)} bytes")
        interactive = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        interactive.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        interactive.sendall(b"E")
        for i in range(20):
            interactive.sendall(bytes([i]))
            try:
                self.assertEqual(interactive.recv(1), bytes([i]))
            except socket.timeout:
                self.fail(f"round trip {i + 1} beside the download took more than 10 s "
                          f"({len(got)} of {len(payload)} bytes downloaded)")
        self.assertFalse(done.is_set(), "the round trips came back only once the download had ended: they waited "
                                        "behind its backlog")
        interactive.close()
        reader.join(60)
        download.close()
        self.assertEqual(len(got), len(payload))
        self.assertEqual(sha256(bytes(got)), sha256(payload))


if __name__ == "__main__":
    unittest.main()
