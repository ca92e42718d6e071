#!/usr/bin/env python3
"""Benchmark: localproxy through tunnel-service on loopback, beside a direct loopback baseline.

On a tunnel without services (the README's `-s PORT` / `-d PORT`) and on one with a named service,
measures bulk throughput each way; the 1-byte round trip p50/p99, alone and beside a saturating
stream on the same tunnel; connect + first byte p50, back to back and one connection every 200 ms,
and connections set up per second; each
proxy's idle RSS, its peak RSS (the largest VmRSS sampled while data moves; also the kernel's
lifetime high-water mark VmHWM, which includes start-up), shared libraries loaded and CPU seconds
per GiB relayed, and tunnel-service's CPU per GiB; how busy each of the three was during the bulk
runs (share of one core) beside the machine's idle time, which says whether one of them (such as
tunnel-service, which decrypts and encrypts every byte) limits them; then 100 connections at
once, each echoing 2 MiB: whether every echo came back whole, and each proxy's peak RSS under
that load. The application behind the tunnel and the client that times round trips and
connections are bench_peer.c, compiled with cc: in C they add least to what they measure. Usage:
    python3 test/bench/bench.py [--mib 512] [--rtt-count 2000] [--connections 300] [--reference PATH] [--rounds N]
                                [--pass-times]
With --pass-times, each proxy's own share of a round trip is timed too, apart from the rest (the
kernel's hand-overs between the five processes, tunnel-service, the client and the application):
pass_clock.c, compiled with cc and preloaded into both proxies, notes when each small message
arrives in a proxy and when the proxy sends it on.
With --rounds N (and a reference) the unnamed pairs run N times, ours and the reference alternately,
and the ratios are given per round and as medians: on a shared VM one run's CPU and timing figures
can move by a third. Each pair's line says how much of the machine's time the hypervisor took
(steal) while it ran. Figures only: nothing here passes or fails.
"""
import argparse
import atexit
import bisect
import math
import os
import select
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import harness  # noqa: E402

CHUNK = 256 * 1024


STREAM_LIMIT = 2 << 30
BESIDE_STREAM_COUNT = 300  # round trips beside the stream: a few seconds of it, well inside STREAM_LIMIT
# A deployment's bottleneck is the link, not the processes: tunnel-service --bandwidth caps each
# tunnel, and --receive-buffer makes its socket buffers fill and push back on the proxy that sends,
# as a slow uplink does (by default the kernel lets them grow to several MiB).
LINK_RATE = 50 << 20  # bytes per second, both directions of the tunnel together
LINK_BUFFER = 256 << 10
LINK_COUNT = 100  # round trips beside the stream on the capped link
LINK_TIMEOUT = 10  # seconds: a round trip that takes longer has not been carried beside the stream


PEER = None  # bench_peer.c, compiled by build_peer(): the application and the timing client


def build_helper(name, directory, flags):
    """test/bench/`name`.c compiled with cc into `directory`: (path, None), or (None, why not)."""
    out = os.path.join(directory, name + (".so" if "-shared" in flags else ""))
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".c")
    try:
        r = subprocess.run(["cc", "-O2", "-o", out, source, *flags], capture_output=True, text=True, timeout=120)
    except OSError as e:
        return None, f"cannot run cc: {e}"
    return (out, None) if r.returncode == 0 else (None, r.stderr.strip().splitlines()[-1:])


def build_peer(directory):
    """Compiles bench_peer.c (the application behind the tunnel and the client that times round
    trips and connections, in C: a Python client and application add their own threads and wake-ups
    to every figure, about 160 µs to a connection and 15 µs to a round trip on loopback); exits with
    one line if cc cannot."""
    global PEER
    PEER, why = build_helper("bench_peer", directory, ["-pthread"])
    if PEER is None:
        sys.exit(f"bench: cannot build test/bench/bench_peer.c: {why}")


class bench_app:
    """The one application behind the tunnel (an unnamed tunnel has one), bench_peer serve: a
    connection's first byte picks what it does. U: an 8-byte length, then that many bytes to sink,
    acknowledged (the tunnel carries no half-close, so the sink cannot wait for the end of stream);
    D: send `total` bytes; S: send until the client goes away, at most 2 GiB (a proxy that buffers
    what it cannot pass on, as the reference does, must not take the machine's memory); E: echo."""

    def __init__(self, total):
        self.p = subprocess.Popen([PEER, "serve", str(total)], stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.p.stdout], [], [], 30)
        line = self.p.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError("bench_peer serve did not start")
        self.port = int(line)

    def close(self):
        self.p.kill()
        self.p.wait(timeout=10)


def upload(port, total):
    block = os.urandom(CHUNK)
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"U" + struct.pack(">Q", total))
    left = total
    while left > 0:
        s.sendall(block[:min(left, CHUNK)])
        left -= CHUNK
    assert s.recv(1) == b"k"  # the sink's acknowledgement: every byte arrived
    s.close()
    return time.monotonic() - t0


def download(port, total):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"D")
    got = 0
    while True:
        b = s.recv(CHUNK)
        if not b:
            break
        got += len(b)
    s.close()
    assert got == total, (got, total)
    return time.monotonic() - t0


def rtt(port, count, timeout=30):
    """(p50, p99) of `count` 1-byte round trips, in microseconds."""
    samples = sorted(t1 - t0 for t0, t1 in rtt_windows(port, count, timeout))
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def rtt_windows(port, count, timeout=30):
    """`count` round trips, each as (sent, answered) in microseconds of CLOCK_MONOTONIC (the clock
    pass_clock.c reads). A reply that takes more than `timeout` seconds raises socket.timeout."""
    r = subprocess.run([PEER, "rtt", str(port), str(count), str(max(1, math.ceil(timeout)))], capture_output=True,
                       text=True, timeout=60 + timeout + count * 0.05)
    if r.returncode == 3:
        raise socket.timeout(r.stderr.strip())
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip() or f"bench_peer rtt exited with {r.returncode}")
    return [tuple(float(v) for v in line.split()) for line in r.stdout.splitlines()]


def build_pass_clock(directory):
    """pass_clock.c as a shared library in `directory`; its path, or None and why not."""
    return build_helper("pass_clock", directory, ["-shared", "-fPIC", "-ldl"])


def own_share(b, app, a, library, binary=None):
    """Round trips through a pair with pass_clock preloaded: per round trip, the time inside the
    two proxies (its four passes) and outside them. Prints and returns the percentiles (µs) of
    both and of the whole round trip."""
    clock_dir = tempfile.mkdtemp(prefix="lp-pass-clock-", dir=b.dir)
    port = harness.free_port()
    first = len(b.procs)
    src, dst, ports = b.start_pair(str(app.port), str(port), [],
                                   settings={"tunneling": {"proxy": {"websocket": {"ping_period_ms": 20000}}}},
                                   verbose="4", src_binary=binary, dst_binary=binary,
                                   env={"LD_PRELOAD": library, "PASS_CLOCK_DIR": clock_dir})
    windows = rtt_windows(ports[0], a.rtt_count)
    pids = (src.pid, dst.pid)
    for p in b.procs[first:]:
        p.stop()
    del b.procs[first:]
    passes = []
    for pid in pids:
        path = os.path.join(clock_dir, f"{pid}.passes")
        if os.path.exists(path):
            with open(path) as f:
                passes += [tuple(float(v) for v in line.split()) for line in f]
    passes.sort()
    arrivals = [p[0] for p in passes]
    own, rest = [], []
    for t0, t1 in windows:
        i = bisect.bisect_left(arrivals, t0)
        inside = 0.0
        while i < len(passes) and passes[i][0] < t1:
            if passes[i][1] <= t1:
                inside += passes[i][1] - passes[i][0]
            i += 1
        own.append(inside)
        rest.append(t1 - t0 - inside)
    own.sort()
    rest.sort()
    q = lambda xs, f: xs[min(len(xs) - 1, int(len(xs) * f))]  # noqa: E731
    whole = sorted(t1 - t0 for t0, t1 in windows)
    r = {"own50": q(own, 0.5), "own99": q(own, 0.99), "rest50": q(rest, 0.5), "rest99": q(rest, 0.99),
         "rtt50": q(whole, 0.5), "rtt99": q(whole, 0.99)}
    who = f"reference {binary}" if binary else "localproxy"
    print(f"{who}: round trip p50 {r['rtt50']:.0f} us p99 {r['rtt99']:.0f} us; inside the two proxies p50 "
          f"{r['own50']:.0f} us p99 {r['own99']:.0f} us; outside them p50 {r['rest50']:.0f} us p99 {r['rest99']:.0f} us")
    return r


# A reader in its own process (no GIL shared with the round trips): connects, asks for the endless
# stream, says "flowing" after the first MiB, then discards until it is stopped.
STREAM_READER = """
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"S")
got, told = 0, False
while True:
    b = s.recv(262144)
    if not b:
        break
    got += len(b)
    if not told and got >= 1 << 20:
        print("flowing", flush=True)
        told = True
"""


def rtt_beside_stream(port, count, timeout=30):
    """Round trips while another connection of the same tunnel carries a saturating download.
    Returns (p50, p99, None), or (None, None, why) when a proxy cannot carry the two at once (a
    round trip that takes longer than `timeout` seconds counts as that)."""
    reader = subprocess.Popen([sys.executable, "-c", STREAM_READER, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([reader.stdout], [], [], 30)
        if not ready or reader.stdout.readline().strip() != "flowing":
            return None, None, "the saturating stream did not start within 30 s"
        try:
            return (*rtt(port, count, timeout), None)
        except socket.timeout:
            return None, None, f"a round trip took more than {timeout} s"
        except (OSError, RuntimeError) as e:
            return None, None, str(e)
    finally:
        reader.kill()
        reader.wait(timeout=10)


def connections(port, count, pause=0.0):
    """`count` connections one after another, `pause` seconds apart: connect, ask the application
    to echo, send a byte, wait for it. Returns (each one's microseconds until the byte came back,
    seconds for all of them)."""
    r = subprocess.run([PEER, "connect", str(port), str(count), str(round(pause * 1000))], capture_output=True,
                       text=True, timeout=60 + count * (pause + 1))
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip() or f"bench_peer connect exited with {r.returncode}")
    lines = r.stdout.split("\n")
    return [float(v) for v in lines[:count]], float(lines[count].split()[1]) / 1e6


def connections_per_second(port, count):
    """Connections set up per second, and the p50 of connect + first echoed byte."""
    samples, elapsed = connections(port, count)
    return count / elapsed, statistics.median(samples)


SPACED_COUNT = 20
SPACED_PAUSE = 0.2  # seconds between two connections


def connect_after_pause(port):
    """The p50 of connect + first echoed byte for connections opened one at a time, SPACED_PAUSE
    apart, as a user opens sessions (back to back, each finds the previous one's work still warm)."""
    return statistics.median(connections(port, SPACED_COUNT, SPACED_PAUSE)[0])


def memory(pid):
    """(VmRSS in MiB, shared libraries mapped) of a running process."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    with open(f"/proc/{pid}/maps") as f:
        libs = {line.split()[-1] for line in f if ".so" in line.rsplit("/", 1)[-1]}
    return rss, len(libs)


def cpu_times():
    """(steal, total, idle) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return fields[7] if len(fields) > 7 else 0, sum(fields[:8]), fields[3] + fields[4]


def measure(port, a, total):
    up = upload(port, total)
    down = download(port, total)
    p50, p99 = rtt(port, a.rtt_count)
    cps, first = connections_per_second(port, a.connections)
    spaced = connect_after_pause(port)
    return (f"upload {a.mib / up:.0f} MiB/s, download {a.mib / down:.0f} MiB/s, rtt p50 {p50:.0f} us p99 {p99:.0f} us, "
            f"connect + first byte p50 {first:.0f} us (one connection every {SPACED_PAUSE * 1000:.0f} ms: {spaced:.0f} us), "
            f"{cps:.0f} connections/s")


class Bench(harness.Harness):
    def runTest(self):
        pass


def through_tunnel(b, app, a, total, named, binary=None):
    """One pair on a tunnel without services (`-s PORT` / `-d PORT`, the README's usage) or with
    one named service, of ours or of `binary` at both ends; prints its figures, stops it and
    returns them."""
    port = harness.free_port()
    dst_map, src_map, services = ((f"BENCH={app.port}", f"BENCH={port}", ["BENCH"]) if named
                                  else (str(app.port), str(port), []))
    first = len(b.procs)
    src, dst, ports = b.start_pair(dst_map, src_map, services,
                                   settings={"tunneling": {"proxy": {"websocket": {"ping_period_ms": 20000}}}},
                                   verbose="4", src_binary=binary, dst_binary=binary)  # the default level
    stop = threading.Event()
    sampling = threading.Event()  # cleared while round trips are timed: the sampler must not share their process's time
    sampling.set()

    def sample():
        while not stop.is_set():
            if sampling.wait(0.05):
                src.sample_rss()
                dst.sample_rss()
                time.sleep(0.05)

    idle = {p.name: memory(p.pid) for p in (src, dst)}
    steal0 = cpu_times()
    threading.Thread(target=sample, daemon=True).start()
    svc0 = b.service.cpu_seconds()
    cpu0 = (src.cpu_seconds(), dst.cpu_seconds())
    bulk0 = cpu_times()
    up = upload(ports[0], total)
    down = download(ports[0], total)
    bulk1 = cpu_times()
    cpu1 = (src.cpu_seconds(), dst.cpu_seconds())
    svc1 = b.service.cpu_seconds()
    sampling.clear()
    p50, p99 = rtt(ports[0], a.rtt_count)
    sampling.set()
    cps, connect50 = connections_per_second(ports[0], a.connections)
    spaced50 = connect_after_pause(ports[0])
    # Last: a proxy that cannot carry a second connection beside a saturated one may not recover.
    busy50, busy99, busy_failed = rtt_beside_stream(ports[0], min(a.rtt_count, BESIDE_STREAM_COUNT))
    stop.set()
    for p in (src, dst):
        p.sample_rss()
    gib = 2 * total / 2**30
    steal1 = cpu_times()
    steal = 100 * (steal1[0] - steal0[0]) / max(1, steal1[1] - steal0[1])
    shape = "one named service" if named else "tunnel without services, unnamed -s/-d"
    who = f"reference {binary}" if binary else "localproxy"
    print(f"## {who} through tunnel-service ({'ws' if a.plain else 'wss'}), {shape}; steal {steal:.1f} %")
    print(f"upload {a.mib / up:.0f} MiB/s, download {a.mib / down:.0f} MiB/s, rtt p50 {p50:.0f} us p99 {p99:.0f} us, "
          + (f"beside a saturating stream p50 {busy50:.0f} us p99 {busy99:.0f} us, " if busy_failed is None
             else f"beside a saturating stream: not measured ({busy_failed}), ")
          + f"connect + first byte p50 {connect50:.0f} us (one connection every {SPACED_PAUSE * 1000:.0f} ms: "
          f"{spaced50:.0f} us), "
          f"{cps:.0f} connections/s")
    for p, cpu in ((src, cpu1[0] - cpu0[0]), (dst, cpu1[1] - cpu0[1])):
        rss, libs = idle[p.name]
        print(f"{p.name}: idle RSS {rss:.1f} MiB with {libs} shared libraries, peak RSS {p.peak_rss_kib / 1024:.1f} MiB "
              f"(anonymous {p.peak_anon_kib / 1024:.1f} MiB; VmHWM {p.hwm_kib / 1024:.1f} MiB), CPU {cpu / gib:.2f} s/GiB")
    print(f"both proxies: CPU {(cpu1[0] - cpu0[0] + cpu1[1] - cpu0[1]) / gib:.2f} s/GiB; "
          f"tunnel-service: CPU {(svc1 - svc0) / gib:.2f} s/GiB")
    # What limits the bulk runs: a process busy for (nearly) all of their time on one core would;
    # else the machine's cores, shared by the five processes, do.
    busy = {"source": cpu1[0] - cpu0[0], "destination": cpu1[1] - cpu0[1], "tunnel-service": svc1 - svc0}
    idle_share = 100 * (bulk1[2] - bulk0[2]) / max(1, bulk1[1] - bulk0[1])
    print("busy during the bulk runs, share of one core: "
          + ", ".join(f"{n} {100 * c / (up + down):.0f} %" for n, c in busy.items())
          + f"; the machine's cores idle {idle_share:.0f} % of the time")
    for p in b.procs[first:]:
        p.stop()
    del b.procs[first:]
    return {"cpu": (cpu1[0] - cpu0[0] + cpu1[1] - cpu0[1]) / gib, "p50": p50, "p99": p99, "busy50": busy50,
            "busy99": busy99, "first": connect50, "spaced": spaced50, "cps": cps, "rss": max(src.peak_rss_kib, dst.peak_rss_kib) / 1024,
            "hwm": max(src.hwm_kib, dst.hwm_kib) / 1024, "steal": steal}


AT_ONCE_COUNT = 100  # within tcp.max_active_connections' default (128), ours and the reference's
AT_ONCE_MIB = 2


def echo_at_once(port, count, size, timeout=120):
    """`count` connections opened together, each echoing `size` bytes (sent while the echo is read),
    all on one selector. Returns (seconds, connections whose echo came back whole)."""
    import selectors
    block = os.urandom(1 << 19) * 2  # a stream's byte k is block[(start + k) % 2**19]
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"E")
        s.setblocking(False)
        c = {"s": s, "start": (i * 7919) % (1 << 19), "sent": 0, "got": 0, "ok": True}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    t0 = time.monotonic()
    left = count
    while left and time.monotonic() - t0 < timeout:
        for key, events in sel.select(1):
            c = key.data
            if events & selectors.EVENT_WRITE and c["sent"] < size:
                at = (c["start"] + c["sent"]) % (1 << 19)
                try:
                    c["sent"] += c["s"].send(block[at:at + min(CHUNK, size - c["sent"])])
                except BlockingIOError:
                    pass
                if c["sent"] >= size:
                    sel.modify(c["s"], selectors.EVENT_READ, c)
            if events & selectors.EVENT_READ:
                try:
                    data = c["s"].recv(1 << 18)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                at = (c["start"] + c["got"]) % (1 << 19)
                if not data or data != block[at:at + len(data)]:
                    c["ok"] = False
                c["got"] += len(data)
                if not data or c["got"] >= size:
                    sel.unregister(c["s"])
                    c["s"].close()
                    left -= 1
    elapsed = time.monotonic() - t0
    for c in conns:
        c["s"].close()
    return elapsed, sum(1 for c in conns if c["ok"] and c["got"] == size)


def many_at_once(b, app, binary=None):
    """AT_ONCE_COUNT connections at once on an unnamed pair, each echoing AT_ONCE_MIB: whether all
    came back whole, the aggregate rate, and each proxy's peak memory under that load."""
    port = harness.free_port()
    first = len(b.procs)
    src, dst, ports = b.start_pair(str(app.port), str(port), [], verbose="4", src_binary=binary, dst_binary=binary)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            src.sample_rss()
            dst.sample_rss()
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = AT_ONCE_MIB << 20
    elapsed, whole = echo_at_once(ports[0], AT_ONCE_COUNT, size)
    stop.set()
    sampler.join()
    who = f"reference {binary}" if binary else "localproxy"
    print(f"{who}: {whole} of {AT_ONCE_COUNT} echoes whole, {AT_ONCE_COUNT * AT_ONCE_MIB / elapsed:.0f} MiB/s each way; "
          + ", ".join(f"{p.name} peak RSS {p.peak_rss_kib / 1024:.1f} MiB (anonymous {p.peak_anon_kib / 1024:.1f} MiB; "
                      f"VmHWM {p.hwm_kib / 1024:.1f} MiB)" for p in (src, dst)))
    for p in b.procs[first:]:
        p.stop()
    del b.procs[first:]


def beside_capped_link(a, app, binary=None):
    """Round trips beside a saturating download on a tunnel whose link is slower than the
    applications (LINK_RATE): where the backlog waits, and so how long an interactive byte waits
    behind it, is then the proxies' design. Prints and returns (p50, p99, None) or (None, None, why)."""
    b = Bench()
    b.setUp()
    try:
        b.start_service(plain=a.plain, extra=["--bandwidth", str(LINK_RATE), "--receive-buffer", str(LINK_BUFFER)])
        port = harness.free_port()
        b.start_pair(str(app.port), str(port), [], settings={"tunneling": {"proxy": {"websocket": {"ping_period_ms": 20000}}}},
                     verbose="4", src_binary=binary, dst_binary=binary)
        p50, p99, why = rtt_beside_stream(port, LINK_COUNT, LINK_TIMEOUT)
    finally:
        b.tearDown()
    who = f"reference {binary}" if binary else "localproxy"
    print(f"{who}: " + (f"p50 {p50 / 1000:.1f} ms p99 {p99 / 1000:.1f} ms" if why is None else f"not carried ({why})"))
    return p50, p99, why


def ratios(ours, ref):
    """Ours / the reference, per figure (connections per second: above 1 is better)."""
    busy = ours["busy50"] and ref["busy50"]
    return {"cpu": ours["cpu"] / ref["cpu"], "p50": ours["p50"] / ref["p50"], "p99": ours["p99"] / ref["p99"],
            "p99_ref50": ours["p99"] / ref["p50"], "busy50": ours["busy50"] / ref["busy50"] if busy else None,
            "busy99": ours["busy99"] / ref["busy99"] if busy else None, "first": ours["first"] / ref["first"],
            "spaced": ours["spaced"] / ref["spaced"],
            "rss": ours["rss"] / ref["rss"], "hwm": ours["hwm"] / ref["hwm"], "cps": ours["cps"] / ref["cps"],
            "steal": max(ours["steal"], ref["steal"])}


def ratio_line(r):
    return (f"CPU per GiB, both proxies {r['cpu']:.2f}, rtt p50 {r['p50']:.2f} p99 {r['p99']:.2f}, "
            f"ours p99 / reference p50 {r['p99_ref50']:.2f}, "
            + (f"beside a stream p50 {r['busy50']:.2f} p99 {r['busy99']:.2f}, " if r["busy50"] is not None
               else "beside a stream: not comparable, ")
            + f"connect + first byte p50 {r['first']:.2f} (one connection every {SPACED_PAUSE * 1000:.0f} ms "
            f"{r['spaced']:.2f}), peak RSS {r['rss']:.3f} (VmHWM {r['hwm']:.3f}); "
            f"connections per second {r['cps']:.2f} (above 1 is better); steal up to {r['steal']:.1f} %")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--rtt-count", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=300)
    ap.add_argument("--plain", action="store_true", help="ws:// instead of wss:// to the local service")
    ap.add_argument("--reference", metavar="PATH", default=os.environ.get("LOCALPROXY_PEER_SOURCE"),
                    help="another localproxy (the reference) to run the same way, with ratios (default: "
                         "$LOCALPROXY_PEER_SOURCE)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="with a reference: run the unnamed pairs this many times, alternately, and give medians")
    ap.add_argument("--pass-times", action="store_true",
                    help="also time each round trip's part inside the proxies (pass_clock.c, preloaded)")
    a = ap.parse_args()
    helpers = tempfile.mkdtemp(prefix="lp-bench-")
    atexit.register(shutil.rmtree, helpers, ignore_errors=True)
    build_peer(helpers)
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    if a.rounds > 1 and not a.reference:
        ap.error("--rounds alternates ours and the reference: it needs --reference PATH")
    total = a.mib * 1024 * 1024

    app = bench_app(total)
    print(f"# {a.mib} MiB each way, {a.rtt_count} round trips, {a.connections} connections")
    print("## direct loopback (baseline)")
    print(measure(app.port, a, total))

    b = Bench()
    b.setUp()
    try:
        b.start_service(plain=a.plain)
        ours = [through_tunnel(b, app, a, total, named=False)]
        through_tunnel(b, app, a, total, named=True)
        if a.reference:
            refs = [through_tunnel(b, app, a, total, named=False, binary=a.reference)]
            for _ in range(a.rounds - 1):  # alternately, so that a slow spell of the machine hits both
                ours.append(through_tunnel(b, app, a, total, named=False))
                refs.append(through_tunnel(b, app, a, total, named=False, binary=a.reference))
            rounds = [ratios(o, r) for o, r in zip(ours, refs)]
            title = "## ours / reference, tunnel without services (below 1 is better"
            if len(rounds) == 1:
                print(title + ")")
                print(ratio_line(rounds[0]))
            else:
                for i, r in enumerate(rounds, 1):
                    print(f"{title}), round {i}")
                    print(ratio_line(r))
                print(f"{title}), median of {len(rounds)} rounds")
                median = {k: statistics.median(r[k] for r in rounds) if all(r[k] is not None for r in rounds) else None
                          for k in rounds[0]}
                median["steal"] = max(r["steal"] for r in rounds)
                print(ratio_line(median))
        if a.pass_times:
            print(f"## a round trip inside the proxies and outside them, {a.rtt_count} round trips, "
                  "tunnel without services")
            library, why = build_pass_clock(b.dir)
            if library is None:
                print(f"not measured: {why}")
            else:
                mine = own_share(b, app, a, library)
                if a.reference:
                    theirs = own_share(b, app, a, library, a.reference)
                    print(f"ours / reference: inside the proxies p50 {mine['own50'] / theirs['own50']:.2f} "
                          f"p99 {mine['own99'] / theirs['own99']:.2f}; outside ours p99 {mine['rest99']:.0f} us, "
                          f"the reference's whole round trip p50 {theirs['rtt50']:.0f} us")
        print(f"## {AT_ONCE_COUNT} connections at once, each echoing {AT_ONCE_MIB} MiB, tunnel without services")
        many_at_once(b, app)
        if a.reference:
            many_at_once(b, app, a.reference)
        print(f"## through a link capped at {LINK_RATE >> 20} MiB/s (tunnel-service --bandwidth {LINK_RATE} "
              f"--receive-buffer {LINK_BUFFER}): {LINK_COUNT} round trips beside a saturating download, "
              "tunnel without services")
        beside_capped_link(a, app)
        if a.reference:
            beside_capped_link(a, app, a.reference)
    finally:
        b.tearDown()
        app.close()


if __name__ == "__main__":
    main()
