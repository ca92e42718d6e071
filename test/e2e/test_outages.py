"""The source under local pressure: out of file descriptors on accept, and clients that connect
while the tunnel is down."""
import contextlib
import os
import resource
import re
import socket
import time
import unittest

from harness import Harness, echo_roundtrip, free_port

ACCEPT_FAILED_RX = r"Accept failed on port {port}: Too many open files"


def open_descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Outages(Harness):
    def setUp(self):
        super().setUp()
        self.start_service()

    @unittest.skipIf(os.environ.get("LOCALPROXY_SANITIZED"),  # scripts/test-sanitized.sh
                     "UBSan's vptr check opens a pipe to probe memory: out of descriptors it reports a false "
                     "'invalid vptr'")
    def test_accept_out_of_descriptors_backs_off_logs_once_and_serves_again(self):
        echo = self.echo_server()
        src, _, ports = self.start_pair(str(echo.port), str(free_port()), [])
        port = ports[0]
        self.assertEqual(echo_roundtrip(port, b"before"), b"before")
        # A few descriptors above what the source holds now: a handful of connections fill them.
        # (Lowered on the running process: the limit must not depend on what start-up opens.)
        limit = open_descriptors(src.pid) + 4
        resource.prlimit(src.pid, resource.RLIMIT_NOFILE, (limit, limit))
        clients = []
        try:
            deadline = time.monotonic() + 30
            rx = re.compile(ACCEPT_FAILED_RX.format(port=port))
            while not rx.search(src.text()):
                self.assertLess(time.monotonic(), deadline, f"accept never failed:\n{src.tail()}")
                if len(clients) < 40:
                    clients.append(socket.create_connection(("127.0.0.1", port), timeout=30))
                time.sleep(0.05)
            # (The first failure may come with an empty backlog: accept checks descriptors first.)
            # This client waits in the backlog while the source backs off (100 ms, growing): several
            # more failed attempts, one log line for the burst.
            accepted = src.text().count("Accepted tcp connection")
            waiting = socket.create_connection(("127.0.0.1", port), timeout=30)
            time.sleep(2)
            self.assertTrue(src.running())
            self.assertEqual(len(rx.findall(src.text())), 1, src.tail())
            self.assertNotIn("Accepting again", src.text())
            self.assertEqual(src.text().count("Accepted tcp connection"), accepted)
            # Closing the accepted ones frees descriptors: a later attempt, with no new connection to
            # wake it, takes the waiting client.
            for c in clients:
                c.close()
            clients = [waiting]
            src.wait_for(rf"Accepting again on port {port} after \d+ failed attempts", timeout=30)
            waiting.sendall(b"waited in the backlog")
            got = b""
            while len(got) < len(b"waited in the backlog"):
                chunk = waiting.recv(4096)
                self.assertTrue(chunk, "the waiting client was closed")
                got += chunk
            self.assertEqual(got, b"waited in the backlog")
        finally:
            for c in clients:
                c.close()
        data = os.urandom(100000)
        self.assertEqual(echo_roundtrip(port, data, timeout=30), data)
        self.assertEqual(len(re.findall(ACCEPT_FAILED_RX.format(port=port), src.text())), 1)

    def test_client_connecting_during_an_outage_is_closed_after_the_pending_timeout(self):
        echo = self.echo_server()
        settings = {"tunneling": {"proxy": {"tcp": {"pending_connection_timeout_ms": 1500}}}}
        src, _, ports = self.start_pair(str(echo.port), str(free_port()), [], settings=settings)
        port = ports[0]
        self.assertEqual(echo_roundtrip(port, b"up"), b"up")
        mark = len(src.text())
        self.service.stop()  # the WebSocket goes down and cannot come back
        src.wait_for(r"Connection to the service lost", timeout=15, after=mark)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.sendall(b"waiting")
            src.wait_for(r"Tunnel not connected; connection from 127\.0\.0\.1:\d+ waits up to 1500 ms", timeout=15,
                         after=mark)
            # Closed by the source (EOF or reset), within a generous bound, with nothing echoed.
            received = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := client.recv(4096):
                    received += chunk
            self.assertEqual(received, b"")
        src.wait_for(r"Closing connection from 127\.0\.0\.1:\d+: the tunnel did not come back within 1500 ms",
                     timeout=15, after=mark)
        self.assertTrue(src.running(), "the source keeps listening and retrying")
        self.assertEqual(echo.accepted, 1, "only the first connection reached the application")


if __name__ == "__main__":
    unittest.main()
