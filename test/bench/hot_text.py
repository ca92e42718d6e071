#!/usr/bin/env python3
"""Writes cmake/hot-text.ld: the functions of localproxy that a running tunnel executes, which the
link places together at the start of the program's code.

Why: the kernel maps code 64 KiB around each page a fault touches. Scattered through 5 MB of
code, the 400 KB or so a tunnel runs on once start-up is over touched 40 such blocks, so a proxy
moving data kept about 2 MiB of its own program resident; placed together they take 7.

How: both proxies of an unnamed pair run under valgrind's callgrind, with instrumentation
switched on once the tunnel is up (start-up code is released after start-up anyway, see README).
They carry the benchmark's kinds of traffic, smaller: bulk both ways, round trips, connections
back to back, 20 at once, 100 at once (more than the buffer budget holds), 50 held idle. Every
function of the localproxy binary either of them executed is listed. Run after a build (needs valgrind), then rebuild:
    python3 test/bench/hot_text.py [--out cmake/hot-text.ld]
A function missing from the list (new code) still works; it only sits outside the hot block.

Each function is placed by the input section that holds it, looked up in the objects and archives
the link of localproxy names (its link.txt): our code is compiled one function per section, but a
constructor's section carries the name of its base-object variant (C2, D2), which callgrind does
not report, and the Boost and protobuf archives from Debian keep their out-of-line functions in
one .text per member, which is then placed whole (a few KB each).
"""
import argparse
import glob
import os
import re
import signal
import socket
import subprocess
import shlex
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import bench  # noqa: E402
import harness  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
COLD = (".text.startup", ".text.unlikely", ".text.exit")  # run once, or split off as rarely run
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.$]*")  # a symbol (callgrind gives an address when it has none)


def wrapper(directory, side, binary):
    """A script that runs `binary` under callgrind, instrumentation off until switched on."""
    path = os.path.join(directory, f"callgrind-{side}.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                f"exec valgrind --tool=callgrind --demangle=no --instr-atstart=no --dump-instr=no "
                f"--callgrind-out-file={directory}/callgrind.{side}.%p {binary} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def executed(path, binary):
    """Names of the functions of `binary` that have a cost in callgrind output `path`."""
    objects, functions, names = {}, {}, set()
    current_object, current = None, None
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                kind, index, name = m.groups()
                table = objects if kind.endswith("ob") else functions
                if name:
                    table[index] = name
                if kind == "ob":
                    current_object = objects.get(index)
                elif kind == "fn":
                    current = functions.get(index) if current_object == binary else None
                continue
            if current and line[:1].isdigit():
                names.add(re.sub(r"'\d+$", "", current))  # callgrind marks recursion levels 'N
    return names


def link_command(binary):
    """The link of `binary` (CMake's link.txt) as words, and the directory it runs in."""
    link_dir = os.path.join(os.path.dirname(os.path.dirname(binary)), "src")
    with open(os.path.join(link_dir, "CMakeFiles", "localproxy.dir", "link.txt")) as f:
        return shlex.split(f.read()), link_dir


def plain_binary(binary, directory):
    """`binary` linked again from the same objects without the hot-text script: valgrind names only
    the functions in a section called .text, and the script moves the hot ones out of it."""
    words, link_dir = link_command(binary)
    out = os.path.join(directory, "localproxy-plain")
    words = [w for w in words if not w.endswith("hot-text.ld")]
    words[words.index("-o") + 1] = out
    subprocess.run(words, cwd=link_dir, check=True)
    return out


def link_inputs(binary):
    """The object files and archives the link of `binary` reads."""
    words, link_dir = link_command(binary)
    return [os.path.normpath(os.path.join(link_dir, w)) for w in words
            if w.endswith((".o", ".a")) and not w.startswith("-") and os.path.exists(os.path.join(link_dir, w))]


def symbol_sections(path):
    """{symbol: section name} for the functions an object file defines."""
    out = subprocess.run(["readelf", "-sSW", path], capture_output=True, text=True, check=True).stdout
    sections, found = {}, {}
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*(\d+)\]\s+(\S+)", line)
        if m:
            sections[m.group(1)] = m.group(2)
            continue
        parts = line.split()
        if len(parts) >= 8 and parts[3] == "FUNC" and parts[6].isdigit():
            found[parts[7]] = sections.get(parts[6])
    return found


def placements(names, binary):
    """Linker-script input-section patterns that place the functions `names`, and the names of
    those left out (in a start-up or cold section, or found in no input of the link)."""
    wanted, patterns = set(names), set()

    def take(path, archive=None, member=None):
        placed = {n: sec for n, sec in symbol_sections(path).items()
                  if n in wanted and sec and sec.startswith(".text") and not sec.startswith(COLD)}
        for section in placed.values():
            if section.startswith(".text."):  # one function per section: its name says which
                patterns.add(f"*({section})")
            elif archive:  # an archive member's whole .text
                patterns.add(f"*{archive}:{member}({section})")
        wanted.difference_update(placed)

    for path in link_inputs(binary):
        if not path.endswith(".a"):
            take(path)
            continue
        listing = subprocess.run(["nm", "-A", "--defined-only", path], capture_output=True, text=True).stdout
        members = {}  # the members defining a wanted name, in order ("lib.a:member.o:0000 T name")
        for line in listing.splitlines():
            where, _, rest = line.rpartition(":")
            fields = rest.split()
            if fields and fields[-1] in wanted:
                members[where.split(":", 1)[1]] = True
        with tempfile.TemporaryDirectory() as tmp:
            for member in members:
                subprocess.run(["ar", "x", path, member], cwd=tmp, check=True)
                take(os.path.join(tmp, member), os.path.basename(path), member)
    return sorted(patterns), sorted(wanted)


def workload(port):
    bench.upload(port, 32 << 20)
    bench.download(port, 32 << 20)
    bench.rtt(port, 300, timeout=120)
    bench.connections_per_second(port, 50)
    bench.echo_at_once(port, 20, 1 << 20)
    bench.echo_at_once(port, 100, 256 << 10)  # more readers than the buffer budget holds at once
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
    for s in idle:
        s.sendall(b"E.")
    for s in idle:
        s.settimeout(60)
        s.recv(1)
    time.sleep(1.5)  # long enough for the idle releases
    for s in idle:
        s.close()
    bench.rtt(port, 100, timeout=120)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "cmake", "hot-text.ld"))
    a = ap.parse_args()
    b = bench.Bench()
    b.setUp()
    try:
        b.start_service()
        plain = plain_binary(os.path.realpath(harness.LOCALPROXY), b.dir)
        bench.build_peer(b.dir)
        app = bench.bench_app(32 << 20)
        port = harness.free_port()
        src, dst, ports = b.start_pair(str(app.port), str(port), [], verbose="4",
                                       src_binary=wrapper(b.dir, "source", plain),
                                       dst_binary=wrapper(b.dir, "destination", plain))
        for p in (src, dst):
            subprocess.run(["callgrind_control", "--instr=on", str(p.pid)], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        workload(ports[0])
        for p in (src, dst):  # callgrind writes its profile as the proxy exits
            p.signal(signal.SIGTERM)
        for p in (src, dst):
            p.p.wait(timeout=120)
        names = set()
        for path in glob.glob(os.path.join(b.dir, "callgrind.*")):
            names |= executed(path, plain)
        app.close()
    finally:
        b.tearDown()
    names = sorted(n for n in names if NAME.fullmatch(n) and not n.startswith("0x"))
    if len(names) < 100:
        sys.exit(f"hot_text: only {len(names)} functions seen; is valgrind installed and the build current?")
    patterns, unplaced = placements(names, os.path.realpath(harness.LOCALPROXY))
    with open(a.out, "w") as f:
        f.write("/* Generated by test/bench/hot_text.py (see there): the functions of localproxy a running\n"
                "   tunnel executes, placed together before the rest of the code. Linked only into localproxy;\n"
                "   a name not found (code changed since) is skipped by the linker. */\n"
                "SECTIONS\n{\n  .text.hot_path :\n  {\n")
        for p in patterns:
            f.write(f"    {p}\n")
        f.write("  }\n}\nINSERT BEFORE .text;\n")
    print(f"hot_text: {len(names)} functions, {len(patterns)} input sections written to {a.out}; "
          f"{len(unplaced)} left where they are (start-up or cold sections, or not found): {' '.join(unplaced[:5])}")


if __name__ == "__main__":
    main()
