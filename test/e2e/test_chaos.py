"""Disorderly traffic through a real tunnel: many clients at once, each doing one of several things
at random, over and over, for a while; then the proxies must be whole.

The conformance matrix checks orderly connections. Here 16 clients at a time, for CHAOS_SECONDS,
each pick (seeded, so a failure can be replayed) one of:
  - echo: 1 byte to 2 MiB (message-size edges included), sent while the echo is read back; it must
    come back exactly, then the client closes;
  - abort: sends part of a request, then resets the connection (SO_LINGER 0) at a random moment;
  - quick: connects and closes at once, without a byte;
  - app_reset: the application reads a given number of bytes, then resets its side while the
    client is still sending;
  - app_close: the application closes at once.
Every client's first line names the service it meant; each service's application records a
connection that names another one (a connection delivered to the wrong service). A connection the
application ended must end at the client too, within CLIENT_TIMEOUT (a silent stall fails).

Afterwards: no client saw a wrong, short or stalled answer; no connection reached the wrong
service; both proxies still run; ours have given back every socket of the clients (their open
descriptors are what they were before the clients came, within DRAIN_TIMEOUT); a last checked echo
goes through; ours logged no error.

Cells: a tunnel without services (the README's -s PORT / -d PORT) and three named services, each
plain and with the service re-chunking every WebSocket message; ours at both ends, and ours as
source with an outside destination (LOCALPROXY_PEER_DESTINATION, skipped when unset). The
reference 3.3.1 as source is left out: under this load it exits by itself ("basic_multi_buffer too
long"), with its own destination as well.

With outages (ours at both ends): every OUTAGE_PERIOD the service drops the destination's
WebSocket, then the source's, then resets the session, in turn. A connection may then end early,
but what came back must be the start of what was sent, it must end (not hang), and after each
disruption an echo must come back whole before the next one: the tunnel carries again. The outage
cells run twice: with the service resetting the other side's streams only when a side replaces a
connected one, and as the recorded AWS service does (reset-on-connect: whenever a side connects).
"""
import hashlib
import os
import random
import socket
import struct
import threading
import time
import unittest

from harness import EchoServer, Harness, free_ports, is_ours, payload_size, peer_binary

CHAOS_SECONDS = 10
CLIENTS = 16
CLIENT_TIMEOUT = 30  # seconds: longer than this for an answer or an end is a stall
DRAIN_TIMEOUT = 15  # seconds for the proxies to close what the clients left
ECHO_SIZES = (1, 10, 1000, 65535, 65536, 65537, 200000, 1 << 20)
ECHO_LARGEST = 2 << 20
OUTAGE_PERIOD = 2.5  # seconds between two of the service's disruptions, in the cells with outages
# The settings both ends get: no pings in the way (a quiet tunnel is not what this tests).
SETTINGS = {"tunneling": {"proxy": {"websocket": {"ping_period_ms": 20000}}}}


class ChaosApp:
    """One service's application. A connection's first line is "<behaviour> <service>"; the
    behaviour (E echo, R reset after reading N bytes, C close) is what the application does."""

    def __init__(self, test, service):
        self.service = service
        self.wrong = []  # first lines that named another service
        self.server = test.echo_server(handler=self.serve)
        self.port = self.server.port

    def serve(self, conn):
        with conn.makefile("rb") as f:  # closed before the socket, or the socket would stay open
            self.answer(conn, f)

    def answer(self, conn, f):
        line = f.readline(200)
        if not line:
            return
        what, _, service = line.rstrip(b"\n").decode(errors="replace").partition(" ")
        if service != self.service:
            self.wrong.append(line)
            return
        if what == "E":
            while True:
                data = f.read1(262144)
                if not data:
                    break
                conn.sendall(data)
        elif what == "R":
            left = struct.unpack(">I", f.read(4))[0]
            while left > 0:
                data = f.read1(min(left, 65536))
                if not data:
                    break
                left -= len(data)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # "C": nothing; the connection closes when serve returns


def ends_within(s, timeout):
    """Reads until the connection ends (end of stream or reset); False if it is still open after
    `timeout` seconds."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return False
    return True


class Clients:
    """The clients of one cell: CLIENTS threads, each with its own seeded random source. With
    `outages`, a connection may end early (the tunnel under it was lost): what came back must then
    be the start of what was sent, and the connection must still end."""

    def __init__(self, targets, seed, outages=False):
        self.targets = targets  # [(service, port)]
        self.seed = seed
        self.outages = outages
        self.whole = []  # when each echo came back whole (time.monotonic())
        self.failures = []
        self.counts = {}
        self.lock = threading.Lock()

    def note(self, what, failure=None):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1
            if failure:
                self.failures.append(failure)

    def connect(self, port):
        return socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)

    def echo(self, rnd, service, port):
        size = rnd.choice(ECHO_SIZES + (rnd.randrange(1, payload_size(ECHO_LARGEST)),))
        data = rnd.randbytes(size)
        s = self.connect(port)
        got, errors = bytearray(), []

        def reader():
            try:
                while len(got) < size:
                    b = s.recv(262144)
                    if not b:
                        break
                    got.extend(b)
            except OSError as e:
                errors.append(e)

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        try:
            s.sendall(f"E {service}\n".encode())
            view = memoryview(data)
            for i in range(0, size, 65536):
                s.sendall(view[i:i + 65536])
        except (BrokenPipeError, ConnectionResetError) as e:
            if not self.outages:
                raise
            errors.append(e)
        t.join(CLIENT_TIMEOUT)
        s.close()
        if t.is_alive():
            return f"echo of {size} bytes for {service or '(unnamed)'}: {len(got)} back after {CLIENT_TIMEOUT} s"
        if self.outages and len(got) < size and bytes(got) == data[:len(got)]:
            self.note("echo_cut")  # ended early, with nothing but its own bytes
            return None
        if not errors and bytes(got) == data:
            self.whole.append(time.monotonic())
            return None
        same = hashlib.sha256(bytes(got[:size])).digest() == hashlib.sha256(data).digest()
        return (f"echo of {size} bytes for {service or '(unnamed)'}: {len(got)} back "
                f"({'the bytes sent' if same else 'not the bytes sent'}), {errors[0] if errors else 'no error'}")

    def abort(self, rnd, service, port):
        s = self.connect(port)
        s.sendall(f"E {service}\n".encode() + rnd.randbytes(rnd.randrange(0, 300000)))
        time.sleep(rnd.random() * 0.05)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    def quick(self, rnd, service, port):
        self.connect(port).close()

    def app_reset(self, rnd, service, port):
        n = rnd.randrange(0, 200000)
        s = self.connect(port)
        try:
            s.sendall(f"R {service}\n".encode() + struct.pack(">I", n) + rnd.randbytes(n + rnd.randrange(0, 100000)))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the application's reset came back while the extra bytes were going out
        ended = ends_within(s, CLIENT_TIMEOUT)
        s.close()
        return None if ended else f"reset by the application after {n} bytes: still open after {CLIENT_TIMEOUT} s"

    def app_close(self, rnd, service, port):
        s = self.connect(port)
        s.sendall(f"C {service}\n".encode())
        ended = ends_within(s, CLIENT_TIMEOUT)
        s.close()
        return None if ended else f"closed by the application: still open after {CLIENT_TIMEOUT} s"

    def run(self, seconds):
        stop = time.monotonic() + seconds
        behaviours = (self.echo, self.abort, self.quick, self.app_reset, self.app_close)

        def client(index):
            rnd = random.Random(f"{self.seed}/{index}")
            while time.monotonic() < stop:
                f = rnd.choices(behaviours, (6, 2, 1, 1, 1))[0]
                service, port = rnd.choice(self.targets)
                try:
                    failure = f(rnd, service, port)
                except OSError as e:
                    failure = f"{f.__name__} for {service or '(unnamed)'}: {e!r}"
                self.note(f.__name__, failure)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 3 * CLIENT_TIMEOUT)
        return [t for t in threads if t.is_alive()]


def open_descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Chaos(Harness):
    destination_is_peer = False

    def setUp(self):
        self.dst_bin = peer_binary("destination") if self.destination_is_peer else None
        super().setUp()
        self.start_service()

    def run_cell(self, services, reframe, outages=False, reset_on_connect=False):
        names = services or [""]
        apps = {n: ChaosApp(self, n) for n in names}
        listen = dict(zip(names, free_ports(len(names))))
        if services:
            dst_map = ",".join(f"{n}={apps[n].port}" for n in names)
            src_map = ",".join(f"{n}={listen[n]}" for n in names)
        else:
            dst_map, src_map = str(apps[""].port), str(listen[""])
        src, dst, ports = self.start_pair(dst_map, src_map, services, settings=SETTINGS, verbose="4",
                                          dst_binary=self.dst_bin)
        self.assertEqual(sorted(ports), sorted(listen.values()))
        for switch, on in (("reframe", reframe), ("reset-on-connect", reset_on_connect)):
            if on:
                status, body = self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/{switch}?on=1")
                self.assertEqual(status, 200, body)
        ours = [p for p, binary in ((src, None), (dst, self.dst_bin)) if is_ours(binary)]
        before = {p.name: open_descriptors(p.pid) for p in ours}

        clients = Clients([(n, listen[n]) for n in names], seed=f"{self.id()}", outages=outages)
        done = threading.Event()
        taken = []

        def take_away():  # the service drops each side in turn and resets the session, while clients run
            actions = ("drop?side=destination", "drop?side=source", "session-reset")
            while not done.wait(OUTAGE_PERIOD) and time.monotonic() < chaos_end - OUTAGE_PERIOD / 2:
                action = actions[len(taken) % len(actions)]
                taken.append((time.monotonic(), action, self.api("POST", f"/tunnels/{self.tunnel['tunnelId']}/{action}")[0]))

        chaos_end = time.monotonic() + CHAOS_SECONDS  # no client starts anything after it
        outage = threading.Thread(target=take_away, daemon=True)
        if outages:
            outage.start()
        stuck = clients.run(CHAOS_SECONDS)
        done.set()
        if outages:
            outage.join(10)
            self.assertEqual([status for _, _, status in taken], [200] * len(taken), taken)
            self.assertGreaterEqual(len(taken), 3, taken)
            # The tunnel carried again after each disruption, before the next one.
            times = [t for t, _, _ in taken] + [chaos_end]
            mended = [any(times[i] < w < times[i + 1] for w in clients.whole) for i in range(len(taken))]
            self.assertEqual(mended, [True] * len(taken), f"a whole echo after each of {[a for _, a, _ in taken]}")
        logs = "\n".join(f"--- {p.name} ---\n" + "\n".join(p.text().splitlines()[-15:]) for p in (src, dst))
        self.assertEqual(stuck, [], f"clients still running: {len(stuck)}\n{logs}")
        self.assertEqual(clients.failures, [], f"{len(clients.failures)} of {sum(clients.counts.values())} "
                         f"connections failed ({clients.counts})\n{logs}")
        self.assertEqual({n: a.wrong for n, a in apps.items()}, {n: [] for n in names},
                         "connections delivered to another service's application")
        self.assertGreater(clients.counts.get("echo", 0), CLIENTS, clients.counts)  # it did run
        for p in (src, dst):
            self.assertTrue(p.running(), f"{p.name} exited\n{logs}")

        # Every client is gone: ours must have closed every socket of theirs.
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while time.monotonic() < deadline:
            now = {p.name: open_descriptors(p.pid) for p in ours}
            if now == before:
                break
            time.sleep(0.2)
        self.assertEqual(now, before, f"open descriptors before the clients / {DRAIN_TIMEOUT} s after them")

        last = Clients([(n, listen[n]) for n in names], seed="last")
        for n in names:
            if outages:  # the last disruption may still be mending: the first echo may take retries
                deadline = time.monotonic() + DRAIN_TIMEOUT
                while (failure := last.echo(random.Random(n), n, listen[n])) and time.monotonic() < deadline:
                    time.sleep(0.2)
                self.assertIsNone(failure, f"{DRAIN_TIMEOUT} s after the last disruption")
            for i in range(3):  # then each at its first attempt
                self.assertIsNone(last.echo(random.Random(f"{n}/{i}"), n, listen[n]))
        for p in ours:
            bad = [line for line in p.text().splitlines() if "[error]" in line or "[fatal]" in line]
            self.assertEqual(bad, [], p.name)

    def test_unnamed(self):
        self.run_cell([], reframe=False)

    def test_unnamed_reframed(self):
        self.run_cell([], reframe=True)

    def test_three_services(self):
        self.run_cell(["SSH", "WEB", "DB"], reframe=False)

    def test_three_services_reframed(self):
        self.run_cell(["SSH", "WEB", "DB"], reframe=True)

    def test_unnamed_with_outages(self):
        self.run_cell([], reframe=False, outages=True)

    def test_three_services_with_outages(self):
        self.run_cell(["SSH", "WEB", "DB"], reframe=True, outages=True)

    def test_unnamed_with_outages_and_resets_on_connect(self):
        self.run_cell([], reframe=False, outages=True, reset_on_connect=True)

    def test_three_services_with_outages_and_resets_on_connect(self):
        self.run_cell(["SSH", "WEB", "DB"], reframe=True, outages=True, reset_on_connect=True)


class ChaosOutsideDestination(Chaos):
    """Ours as source, the outside localproxy (LOCALPROXY_PEER_DESTINATION) as destination."""

    destination_is_peer = True
    # What the reference 3.3.1 did as destination in these cells (seen in its log):
    OUTAGES_SKIPPED = ("the reference 3.3.1 as destination does not come through them: after it ignores data for a "
                       "stream it does not have it fails to parse the next message and drops its WebSocket (\"Could "
                       "not parse web socket binary frame into message\"), and a STREAM_START right after a "
                       "SESSION_RESET it resets and then never carries")

    def run_cell(self, services, reframe, outages=False, reset_on_connect=False):
        if outages:
            self.skipTest(self.OUTAGES_SKIPPED)
        super().run_cell(services, reframe, outages, reset_on_connect)


if __name__ == "__main__":
    unittest.main()
