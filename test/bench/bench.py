#!/usr/bin/env python3
"""Benchmark: localproxy through tunnel-service on loopback, beside a direct loopback baseline.

Measures bulk throughput each way, 1-byte round trip p50/p99, V3 connections set up per second,
and each proxy's peak RSS and CPU seconds per GiB relayed. Usage:
    python3 test/bench/bench.py [--mib 512] [--rtt-count 2000] [--connections 300]
Figures only: nothing here passes or fails.
"""
import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import harness  # noqa: E402

CHUNK = 256 * 1024


def sink_server():
    def sink(conn):
        while conn.recv(CHUNK):
            pass
        conn.sendall(b"k")
    return harness.EchoServer(handler=sink)


def source_server(total):
    def source(conn):
        block = os.urandom(CHUNK)
        left = total
        while left > 0:
            conn.sendall(block[:min(left, CHUNK)])
            left -= CHUNK
        conn.shutdown(socket.SHUT_WR)
    return harness.EchoServer(handler=source)


def upload(port, total):
    block = os.urandom(CHUNK)
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    left = total
    while left > 0:
        s.sendall(block[:min(left, CHUNK)])
        left -= CHUNK
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the sink's acknowledgement: every byte arrived
    s.close()
    return time.monotonic() - t0


def download(port, total):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    got = 0
    while True:
        b = s.recv(CHUNK)
        if not b:
            break
        got += len(b)
    s.close()
    assert got == total, (got, total)
    return time.monotonic() - t0


def rtt(port, count):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        s.sendall(b"x")
        assert s.recv(1) == b"x"
        samples.append((time.perf_counter() - t0) * 1e6)
    s.close()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def connections_per_second(port, count):
    t0 = time.monotonic()
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"x")
        assert s.recv(1) == b"x"
        s.close()
    return count / (time.monotonic() - t0)


class Bench(harness.Harness):
    def runTest(self):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--rtt-count", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=300)
    ap.add_argument("--plain", action="store_true", help="ws:// instead of wss:// to the local service")
    a = ap.parse_args()
    total = a.mib * 1024 * 1024

    sink, src_app, echo = sink_server(), source_server(total), harness.EchoServer()
    print(f"# {a.mib} MiB each way, {a.rtt_count} round trips, {a.connections} connections")
    print("## direct loopback (baseline)")
    up = upload(sink.port, total)
    down = download(src_app.port, total)
    p50, p99 = rtt(echo.port, a.rtt_count)
    cps = connections_per_second(echo.port, a.connections)
    print(f"upload {a.mib / up:.0f} MiB/s, download {a.mib / down:.0f} MiB/s, rtt p50 {p50:.0f} us p99 {p99:.0f} us, "
          f"{cps:.0f} connections/s")

    b = Bench()
    b.setUp()
    try:
        b.start_service(plain=a.plain)
        names = ["SINK", "SOURCE", "ECHO"]
        ports = [harness.free_port() for _ in names]
        src, dst, _ = b.start_pair(f"SINK={sink.port},SOURCE={src_app.port},ECHO={echo.port}",
                                   ",".join(f"{n}={p}" for n, p in zip(names, ports)), names,
                                   settings={"tunneling": {"proxy": {"websocket": {"ping_period_ms": 20000}}}},
                                   verbose="4")  # the default level
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                src.sample_rss()
                dst.sample_rss()
                time.sleep(0.05)

        threading.Thread(target=sample, daemon=True).start()
        cpu0 = (src.cpu_seconds(), dst.cpu_seconds())
        up = upload(ports[0], total)
        down = download(ports[1], total)
        cpu1 = (src.cpu_seconds(), dst.cpu_seconds())
        p50, p99 = rtt(ports[2], a.rtt_count)
        cps = connections_per_second(ports[2], a.connections)
        stop.set()
        gib = 2 * total / 2**30
        print(f"## localproxy through tunnel-service ({'ws' if a.plain else 'wss'})")
        print(f"upload {a.mib / up:.0f} MiB/s, download {a.mib / down:.0f} MiB/s, rtt p50 {p50:.0f} us p99 {p99:.0f} us, "
              f"{cps:.0f} connections/s")
        for p, cpu in ((src, cpu1[0] - cpu0[0]), (dst, cpu1[1] - cpu0[1])):
            print(f"{p.name}: peak RSS {p.peak_rss_kib / 1024:.1f} MiB (anonymous {p.peak_anon_kib / 1024:.1f} MiB, "
                  f"the rest shared library pages), CPU {cpu / gib:.2f} s/GiB")
        svc_cpu = b.service.cpu_seconds()
        print(f"tunnel-service: CPU {svc_cpu:.2f} s total")
    finally:
        b.tearDown()
        for s in (sink, src_app, echo):
            s.close()


if __name__ == "__main__":
    main()
