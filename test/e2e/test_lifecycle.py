"""Resets, reconnects, closes, rejections, signals, bounded memory, secrets."""
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import Harness, LOCALPROXY, Proc, echo_roundtrip, free_port, free_ports, sha256


class Lifecycle(Harness):
    def setUp(self):
        super().setUp()
        self.start_service()

    def test_destination_app_down_resets_only_that_connection(self):
        echo = self.echo_server()
        dead = free_port()
        p1, p2 = free_ports(2)
        src, dst, _ = self.start_pair(f"SSH={echo.port},WEB={dead}", f"SSH={p1},WEB={p2}", ["SSH", "WEB"])
        alive = socket.create_connection(("127.0.0.1", p1), timeout=10)
        alive.sendall(b"ping")
        self.assertEqual(alive.recv(4), b"ping")
        broken = socket.create_connection(("127.0.0.1", p2), timeout=10)
        self.assertEqual(broken.recv(10), b"")  # reset after the retries
        dst.wait_for(r"Giving up connecting")
        # both sides say so at the default level: the source too, not only the destination
        src.wait_for(r"Disconnected from: service WEB stream \d+ connection 1, closed by the peer \(0 bytes to the "
                     r"tunnel, 0 bytes from it, \d+\.\d s\)")
        dst.wait_for(r"Disconnected from: service WEB stream \d+ connection 1, the application could not be reached")
        alive.sendall(b"pong")
        self.assertEqual(alive.recv(4), b"pong")
        alive.close()
        broken.close()

    def test_each_connection_is_logged_opened_and_closed_on_both_sides(self):
        echo = self.echo_server()
        src, dst, ports = self.start_pair(str(echo.port), str(free_port()), [], verbose="4")
        self.assertEqual(echo_roundtrip(ports[0], b"x" * 1234), b"x" * 1234)
        src.wait_for(r"Opened the service stream 1 connection 1 for 127\.0\.0\.1:\d+ \(STREAM_START\)")
        dst.wait_for(r"Connected to localhost, port: \d+ for the service stream 1 connection 1")
        src.wait_for(r"Disconnected from: the service stream 1 connection 1, closed by the client \(1234 bytes to the "
                     r"tunnel, 1234 bytes from it, \d+\.\d s\)")
        dst.wait_for(r"Disconnected from: the service stream 1 connection 1, closed by the peer \(1234 bytes to the "
                     r"tunnel, 1234 bytes from it, \d+\.\d s\)")

    def test_start_up_pages_are_given_back_once_connected(self):
        echo = self.echo_server()
        src, dst, ports = self.start_pair(str(echo.port), str(free_port()), [], verbose="5")
        # once the configuration is read, once TLS is set up, after each step of the connect, once
        # the tunnel is up
        for p in (src, dst):
            for after in ("the configuration read", "TLS set up", "the TCP connect", "the TLS handshake",
                          "the WebSocket upgrade", "the tunnel up"):
                rx = rf"Released (\d+) KiB of start-up pages from (\d+) mappings( and freed heap)?, {after} \(resident \d+ KiB, at most \d+ KiB so far\)\n"
                m = p.wait_for(rx)
                self.assertGreater(int(m.group(1)), 0)
                self.assertGreater(int(m.group(2)), 0)
        # Code needed again comes back from the page cache: the tunnel works as before, and the
        # resident set is below what start-up reached.
        data = os.urandom(300000)
        self.assertEqual(sha256(echo_roundtrip(ports[0], data)), sha256(data))
        for p in (src, dst):
            with open(f"/proc/{p.pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            rss, hwm = (int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM"))
            self.assertLess(rss, hwm, f"{p.name}: VmRSS {rss} KiB, VmHWM {hwm} KiB")

    def test_websocket_drop_reconnects_and_new_connections_work(self):
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"])
        s = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        s.sendall(b"x" * 1000)
        self.assertEqual(len(s.recv(1000)), 1000)
        mark = len(src.text())
        status, _ = self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/drop?side=source")
        self.assertEqual(status, 200)
        self.assertEqual(s.recv(10), b"")  # local connections close with the WebSocket
        src.wait_for(r"Successfully established websocket connection", timeout=15, after=mark)
        self.assert_echo_recovers(ports[0], 500000)

    def test_destination_reconnect_ends_its_streams_at_the_source(self):
        # Nothing tells the source that the destination's WebSocket was renewed: the destination
        # itself ends the streams it lost, so that clients waiting on them are closed at once, and
        # new connections go on a new stream. On a tunnel without services (-s/-d) and a named one.
        for named in (False, True):
            with self.subTest(named=named):
                echo = self.echo_server()
                prefix = "SSH=" if named else ""
                src, dst, ports = self.start_pair(f"{prefix}{echo.port}", f"{prefix}{free_port()}",
                                                  ["SSH"] if named else [])
                waiting = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
                waiting.sendall(b"abc")
                self.assertEqual(waiting.recv(3), b"abc")
                mark = len(dst.text())
                status, _ = self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/drop?side=destination")
                self.assertEqual(status, 200)
                # The client sends nothing more: its connection must end all the same.
                waiting.settimeout(10)
                try:
                    self.assertEqual(waiting.recv(10), b"")
                except ConnectionResetError:
                    pass
                waiting.close()
                dst.wait_for(r"Ending stream 1 of " + ("service SSH" if named else "the service") + " at the source",
                             after=mark)
                self.assert_echo_recovers(ports[0], 100000)
                for i in range(3):  # then each one at its first attempt
                    data = os.urandom(100000)
                    self.assertEqual(sha256(echo_roundtrip(ports[0], data, timeout=10)), sha256(data), f"echo {i}")
                for p in (src, dst):
                    p.stop()

    def test_restarted_destination_takes_up_the_source_stream(self):
        # A destination started again (a crash, a restart by systemd) knows nothing of the stream
        # the source goes on with: it takes it up, and the source need not be restarted.
        echo = self.echo_server()
        client_token = "r" * 32
        src, dst, ports = self.start_pair(str(echo.port), str(free_port()), [], dst_extra=["-i", client_token])
        data = os.urandom(10000)
        self.assertEqual(sha256(echo_roundtrip(ports[0], data)), sha256(data))
        mark = len(self.service.text())
        dst.p.kill()
        dst.p.wait(timeout=10)
        self.service.wait_for(r"destination disconnected", after=mark)  # not a replacement: no reset from it
        again = self.start_proxy("destination", ["-d", str(echo.port), "-i", client_token],
                                 self.tunnel["destinationAccessToken"], None, (), "5")
        self.wait_connected(again)
        self.assert_echo_recovers(ports[0], 100000)
        for i in range(3):
            data = os.urandom(100000)
            self.assertEqual(sha256(echo_roundtrip(ports[0], data, timeout=10)), sha256(data), f"echo {i}")
        again.wait_for(r"Taking up stream 1 of the service")

    def test_session_reset_closes_connections_and_tunnel_goes_on(self):
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"])
        s = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        s.sendall(b"abc")
        self.assertEqual(s.recv(3), b"abc")
        status, _ = self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/session-reset")
        self.assertEqual(status, 200)
        self.assertEqual(s.recv(10), b"")
        data = os.urandom(100000)
        self.assertEqual(sha256(echo_roundtrip(ports[0], data)), sha256(data))

    def test_close_via_api_exits_zero(self):
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"])
        status, _ = self.api("DELETE", f"/tunnels/{self.tunnel['tunnelId']}")
        self.assertIn(status, (200, 204))
        self.assertEqual(src.wait_exit(10), 0, src.tail())
        self.assertEqual(dst.wait_exit(10), 0, dst.tail())

    def test_rejected_token_exits_three_without_retrying(self):
        self.open_tunnel(["SSH"])
        p = self.start_proxy("source", ["-s", str(free_port())], "not-a-valid-token")
        self.assertEqual(p.wait_exit(15), 3, p.tail())
        self.assertIn("Not retrying", p.text())
        self.assertEqual(p.text().count("Connection rejected"), 1)

    def test_unreachable_service_gives_up_after_retry_budget(self):
        settings = self.settings_file({"tunneling": {"proxy": {"websocket": {"connect_retry_count": 2}}}})
        args = [LOCALPROXY, "-s", str(free_port()), "-e", f"ws://127.0.0.1:{free_port()}", "--settings-json", settings]
        q = Proc("unreachable", args, self.dir, env={"AWSIOT_TUNNEL_ACCESS_TOKEN": "tok"})
        self.procs.append(q)
        self.assertEqual(q.wait_exit(20), 1, q.tail())
        self.assertEqual(q.text().count("Reconnecting in"), 2)
        self.assertIn("Giving up", q.text())

    def test_status_line_reports_rtt_and_connections(self):
        echo = self.echo_server()
        status = {"tunneling": {"proxy": {"status_period_ms": 300, "websocket": {"ping_period_ms": 100}}}}
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"], settings=status)
        s = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        s.sendall(b"abc")
        self.assertEqual(s.recv(3), b"abc")
        line = src.wait_for(r"status: connected \S+, rtt [0-9.]+ ms, connections SSH 1 \(1 opened\); since last: [0-9.]+ k?B in, "
                            r"[0-9.]+ k?B out; total [0-9.]+ k?B in, [0-9.]+ k?B out", timeout=10)
        self.assertTrue(line)
        s.close()

    def test_connections_over_the_limit_are_refused(self):
        echo = self.echo_server()
        limit = {"tunneling": {"proxy": {"tcp": {"max_active_connections": 2}}}}
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"], settings=limit)
        held = []
        for i in range(2):
            c = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
            c.sendall(b"x")
            self.assertEqual(c.recv(1), b"x")
            held.append(c)
        extra = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        self.assertEqual(extra.recv(1), b"")
        src.wait_for(r"Refusing connection from .*tcp\.max_active_connections")
        held[0].sendall(b"y")
        self.assertEqual(held[0].recv(1), b"y")
        for c in held + [extra]:
            c.close()

    def test_missing_pongs_end_the_connection_and_it_reconnects(self):
        echo = self.echo_server()
        quick = {"tunneling": {"proxy": {"websocket": {"ping_period_ms": 100, "pong_timeout_ms": 600}}}}
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"], settings=quick)
        time.sleep(0.5)  # a few pongs arrive first: the service answers
        mark = len(src.text())
        status, _ = self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/freeze?side=source")
        self.assertEqual(status, 200)
        # the service's pending read answers pings until a message completes it: send one
        poke = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        poke.sendall(b"x")
        src.wait_for(r"no pong from the service for 600 ms", timeout=10, after=mark)
        self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/freeze?side=source&on=0")
        src.wait_for(r"Successfully established websocket connection", timeout=15, after=mark)
        poke.close()
        self.assert_echo_recovers(ports[0])

    def test_default_pong_deadline_follows_the_ping_period(self):
        # No pong_timeout_ms: two ping periods (400 ms here), not a fixed 30 s.
        echo = self.echo_server()
        quick = {"tunneling": {"proxy": {"websocket": {"ping_period_ms": 200}}}}
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"], settings=quick)
        time.sleep(0.6)  # a few pongs arrive first: the service answers
        mark = len(src.text())
        status, _ = self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/freeze?side=source")
        self.assertEqual(status, 200)
        poke = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        poke.sendall(b"x")
        src.wait_for(r"no pong from the service for 400 ms", timeout=10, after=mark)
        self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/freeze?side=source&on=0")
        src.wait_for(r"Successfully established websocket connection", timeout=15, after=mark)
        poke.close()
        self.assert_echo_recovers(ports[0])

    def test_sigterm_exits_zero_quickly(self):
        echo = self.echo_server()
        src, dst, ports = self.start_pair(f"SSH={echo.port}", f"SSH={free_port()}", ["SSH"])
        s = socket.create_connection(("127.0.0.1", ports[0]), timeout=10)
        s.sendall(b"abc")
        self.assertEqual(s.recv(3), b"abc")
        for p in (src, dst):
            t0 = time.monotonic()
            p.signal(signal.SIGTERM)
            self.assertEqual(p.wait_exit(5), 0, p.tail())
            self.assertLess(time.monotonic() - t0, 1.5)
        s.close()

    def test_tokens_absent_from_logs_at_trace(self):
        echo = self.echo_server()
        t = self.open_tunnel(["SSH"])
        client_token = "c" * 20 + "-" + "0123456789abcdef"
        dst = self.start_proxy("destination", ["-d", str(echo.port), "-i", client_token], t["destinationAccessToken"],
                               verbose="6")
        dst.wait_for(r"Successfully established websocket connection")
        src = self.start_proxy("source", ["-s", str(free_port()), "-t", t["sourceAccessToken"]],
                               t["sourceAccessToken"], verbose="6")
        ports = self.wait_listening(src, 1)
        data = os.urandom(10000)
        self.assertEqual(sha256(echo_roundtrip(ports[0], data)), sha256(data))
        for p, token in ((dst, t["destinationAccessToken"]), (src, t["sourceAccessToken"])):
            text = p.text()
            self.assertIn("[trace]", text)
            self.assertNotIn(token, text)
            self.assertNotIn(client_token, text)


class Memory(Harness):
    def setUp(self):
        if os.environ.get("LOCALPROXY_SANITIZED"):  # scripts/test-sanitized.sh
            self.skipTest("peak RSS means nothing under ASan's shadow memory and quarantine")
        super().setUp()
        self.start_service()

    @staticmethod
    def anonymous_peaks(*procs):
        """{name: the largest anonymous memory (KiB) sampled so far, this moment included}."""
        for p in procs:
            p.sample_rss()
        return {p.name: p.peak_anon_kib for p in procs}

    def bulk_and_echo(self, blast, stall_timeout_ms):
        """BULK: an app that sends as fast as it can; ECHO: an echo server. Returns (src, dst, bulk, echo)."""
        app = self.echo_server(handler=blast)
        echo = self.echo_server()
        p1, p2 = free_ports(2)
        src, dst, _ = self.start_pair(f"BULK={app.port},ECHO={echo.port}", f"BULK={p1},ECHO={p2}", ["BULK", "ECHO"],
                                      settings={"tunneling": {"proxy": {"tcp": {"stall_timeout_ms": stall_timeout_ms}}}})
        return src, dst, p1, p2

    def test_slow_reader_keeps_memory_bounded_and_fast_connection_flows(self):
        total = 96 * 1024 * 1024

        def blast(conn):
            chunk = os.urandom(65536)
            sent = 0
            while sent < total:
                conn.sendall(chunk)
                sent += len(chunk)

        src, dst, p1, p2 = self.bulk_and_echo(blast, 60000)
        self.assertEqual(echo_roundtrip(p2, b"warm up"), b"warm up")
        idle = {p.name: p.sample_rss() for p in (src, dst)}
        slow = socket.create_connection(("127.0.0.1", p1), timeout=30)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        received = [0]
        done = threading.Event()

        def read_slowly():  # slow but moving (about 30 MB/s at most) until the other checks are done
            deadline = time.monotonic() + 60
            while not done.is_set() and time.monotonic() < deadline:
                b = slow.recv(65536)
                if not b:
                    break
                received[0] += len(b)
                time.sleep(0.002)

        reader = threading.Thread(target=read_slowly, daemon=True)
        reader.start()
        while received[0] < 8 * 1024 * 1024 and reader.is_alive():
            for p in (src, dst):
                p.sample_rss()
            time.sleep(0.05)
        # meanwhile another connection through the same tunnel works
        try:
            for _ in range(5):
                data = os.urandom(50000)
                self.assertEqual(sha256(echo_roundtrip(p2, data, timeout=20)), sha256(data))
                for p in (src, dst):
                    p.sample_rss()
        finally:
            done.set()
            reader.join()
        self.assertGreaterEqual(received[0], 8 * 1024 * 1024)
        slow.close()
        for p in (src, dst):
            p.sample_rss()
            # What 96 MiB through a slow reader adds to the process, shared-library pages first
            # touched by the transfer included: one connection's bounded buffers, not the transfer.
            # (The absolute RSS depends on the build and its libraries: a benchmark figure.)
            grown = p.peak_rss_kib - idle[p.name]
            self.assertLess(grown, 8 * 1024, f"{p.name} RSS grew from {idle[p.name]} to {p.peak_rss_kib} KiB")
        self.assertNotIn("stopped reading", src.text())
        print(f"peak RSS: source {src.peak_rss_kib} KiB (idle {idle['source']}), "
              f"destination {dst.peak_rss_kib} KiB (idle {idle['destination']})")

    def test_300_stalled_readers_stay_within_the_total_buffer_budget(self):
        # 300 clients send as fast as they can; the destination's application (a Unix socket: the
        # kernel buffers little for it, unlike loopback TCP's autotuned 4 MiB) reads nothing. Each
        # connection alone stays under its own limit; all together they would hold far more than
        # tcp.total_buffer_size, which must bound both proxies.
        budget_mib = int(os.environ.get("LP_E2E_BUDGET_MIB", "4"))
        release = threading.Event()
        self.addCleanup(release.set)
        app = self.echo_server(unix_path=os.path.join(self.dir, "stalled.sock"), handler=lambda conn: release.wait(60))
        echo = self.echo_server()
        p1, p2 = free_ports(2)
        tcp = {"max_active_connections": 400, "stall_timeout_ms": 2000,
               "total_buffer_size": budget_mib * 1024 * 1024}
        src, dst, _ = self.start_pair(f"BULK={app.port},ECHO={echo.port}", f"BULK={p1},ECHO={p2}", ["BULK", "ECHO"],
                                      settings={"tunneling": {"proxy": {"tcp": tcp}}}, verbose="4")
        self.assertEqual(sha256(echo_roundtrip(p2, b"warm up")), sha256(b"warm up"))
        idle = self.anonymous_peaks(src, dst)
        clients = []
        try:
            for _ in range(300):
                c = socket.create_connection(("127.0.0.1", p1), timeout=10)
                c.setblocking(False)
                clients.append(c)
            block = os.urandom(65536)
            sent = 0
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                progressed = False
                for c in list(clients):
                    try:
                        sent += c.send(block)
                        progressed = True
                    except BlockingIOError:
                        pass
                    except OSError:  # reset: the proxy gave up on a connection that stalled
                        clients.remove(c)
                for p in (src, dst):
                    p.sample_rss()
                if not progressed:
                    time.sleep(0.02)
            dst.wait_for(r"over tcp\.total_buffer_size", timeout=10)
            data = os.urandom(100000)  # a fresh connection still gets its echo
            try:
                back = echo_roundtrip(p2, data, timeout=60)
            except OSError as e:
                back = repr(e).encode()
            echo_lines = "\n".join(f"{p.name}: {line}" for p in (src, dst) for line in p.text().splitlines()
                                   if "ECHO" in line and "Listening" not in line)
            self.assertEqual(sha256(back), sha256(data), echo_lines)
            for p in (src, dst):
                p.sample_rss()
        finally:
            for c in clients:
                c.close()
        print(f"clients sent {sent / 2**20:.0f} MiB")
        for p in (src, dst):
            grown = p.peak_anon_kib - idle[p.name]
            print(f"{p.name}: idle anonymous {idle[p.name]} KiB, peak {p.peak_anon_kib} KiB (+{grown} KiB), "
                  f"peak RSS {p.peak_rss_kib} KiB; budget {budget_mib * 1024} KiB")
            # The budget, plus what 300 connections need to exist at all (measured at about 13 KiB
            # each when idle: sockets, coroutine frames, a small read buffer) and the allocator's
            # slack, which grows under load. Without the budget this load grew them by 19 and 26 MiB.
            self.assertLess(grown, budget_mib * 1024 + 6 * 1024, f"{p.name} grew by {grown} KiB")

    def test_the_code_a_tunnel_runs_is_linked_together(self):
        # cmake/hot-text.ld (LOCALPROXY_HOT_TEXT, on by default) puts the functions a running
        # tunnel executes in one section before the rest of the code; the data path's own are in it,
        # a constructor among them (its section is named after its C2 variant, not the C1 one a
        # profile reports) and a Boost.Log function (from an archive member's whole .text).
        sections = subprocess.run(["readelf", "-SW", LOCALPROXY], capture_output=True, text=True, check=True).stdout
        hot = re.search(r"\.text\.hot_path\s+PROGBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", sections)
        self.assertIsNotNone(hot, "no .text.hot_path section: built without cmake/hot-text.ld")
        begin, size = int(hot.group(1), 16), int(hot.group(2), 16)
        self.assertGreater(size, 32 * 1024)  # about 490 KB in a release build
        symbols = subprocess.run(["nm", "-C", LOCALPROXY], capture_output=True, text=True, check=True).stdout
        for function in ("localproxy::tunnel::local_connection::deliver(", "localproxy::tunnel::outbox::push_frame(",
                         "localproxy::protocol::parse_message(", "localproxy::tunnel::local_connection::local_connection(",
                         "boost::log::v2s_mt_posix::core::push_record_move("):
            line = next((l for l in symbols.splitlines() if function in l and "[clone" not in l), None)
            self.assertIsNotNone(line, function)
            self.assertTrue(begin <= int(line.split()[0], 16) < begin + size, f"{function} is not in .text.hot_path")

    def test_300_idle_connections_hold_no_read_buffers(self):
        # Each connection sent a byte and got it back, then waits: neither proxy may keep a read
        # buffer for it (4 KiB at least) while it does. What is left per connection is its
        # bookkeeping (4-6 KiB with the allocator's share); with a buffer kept for each of
        # its two frame slots it was 12 KiB.
        echo = self.echo_server()
        tcp = {"max_active_connections": 400}
        src, dst, ports = self.start_pair(str(echo.port), str(free_port()), [],
                                          settings={"tunneling": {"proxy": {"tcp": tcp}}})
        self.assertEqual(echo_roundtrip(ports[0], b"warm up"), b"warm up")
        time.sleep(0.5)
        idle = self.anonymous_peaks(src, dst)
        clients = []
        try:
            for _ in range(300):
                c = socket.create_connection(("127.0.0.1", ports[0]), timeout=20)
                c.sendall(b"x")
                clients.append(c)
            for c in clients:
                self.assertEqual(c.recv(1), b"x")
            for p in (src, dst):
                p.sample_rss()
            for p in (src, dst):
                grown = p.peak_anon_kib - idle[p.name]
                print(f"{p.name}: anonymous memory {idle[p.name]} KiB, with 300 idle connections {p.peak_anon_kib} KiB")
                self.assertLess(grown, 300 * 8, f"{p.name} grew by {grown} KiB for 300 idle connections")
        finally:
            for c in clients:
                c.close()

    def test_stuck_reader_is_reset_and_others_keep_flowing(self):
        def blast(conn):
            chunk = b"z" * 65536
            while True:
                conn.sendall(chunk)

        src, dst, p1, p2 = self.bulk_and_echo(blast, 1500)
        self.assertEqual(echo_roundtrip(p2, b"warm up"), b"warm up")
        idle = src.sample_rss()
        stuck = socket.create_connection(("127.0.0.1", p1), timeout=30)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        src.wait_for(r"stopped reading", timeout=20)
        data = os.urandom(50000)
        self.assertEqual(sha256(echo_roundtrip(p2, data, timeout=20)), sha256(data))
        src.sample_rss()
        self.assertLess(src.peak_rss_kib - idle, 8 * 1024, f"RSS grew from {idle} to {src.peak_rss_kib} KiB")
        stuck.close()


if __name__ == "__main__":
    unittest.main()
