#!/usr/bin/env python3
"""The demo: a local tunnel service, a web server behind a destination localproxy, a source
localproxy in front of it, and real traffic through the tunnel. Cleans up after itself."""
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bin")
SIZE = 100 * 1024 * 1024


def say(text):
    print(f"demo: {text}", flush=True)


class Child:
    def __init__(self, name, args, workdir, env=None):
        self.name = name
        self.log = os.path.join(workdir, name + ".log")
        with open(self.log, "wb") as out:
            self.p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env={**os.environ, **(env or {})})

    def wait_for(self, pattern, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log, errors="replace") as f:
                m = re.search(pattern, f.read())
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        with open(self.log, errors="replace") as f:
            sys.exit(f"demo: {self.name} did not get ready; its log:\n{f.read()[-3000:]}")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                return self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
        return self.p.wait()


def main():
    work = tempfile.mkdtemp(prefix="localproxy-demo-")
    children = []
    web = None
    try:
        site = os.path.join(work, "site")
        os.mkdir(site)
        with open(os.path.join(site, "index.html"), "w") as f:
            f.write("<h1>Hello from the device, through the tunnel</h1>\n")
        digest = hashlib.sha256()
        with open(os.path.join(site, "big.bin"), "wb") as f:
            for _ in range(SIZE // (1 << 20)):
                block = os.urandom(1 << 20)
                digest.update(block)
                f.write(block)
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=site, **k)  # noqa: E731
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=web.serve_forever, daemon=True).start()
        say(f"web server (the device's service) on 127.0.0.1:{web.server_port}")

        svc = Child("tunnel-service", [os.path.join(BIN, "tunnel-service"), "--listen", "127.0.0.1:0", "--api",
                                        "127.0.0.1:0", "--self-signed", os.path.join(work, "certs")], work)
        children.append(svc)
        port = int(svc.wait_for(r"listening on wss://[^:]+:(\d+)").group(1))
        api = int(svc.wait_for(r"api on http://[^:]+:(\d+)").group(1))
        req = urllib.request.Request(f"http://127.0.0.1:{api}/tunnels", data=json.dumps({"services": ["WEB"]}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        tunnel = json.load(urllib.request.urlopen(req, timeout=10))
        say(f"tunnel-service on wss://localhost:{port}; opened tunnel {tunnel['tunnelId']} with service WEB")

        common = ["-e", f"localhost:{port}", "-c", os.path.join(work, "certs", "ca")]
        dst = Child("destination", [os.path.join(BIN, "localproxy"), "-d", f"WEB={web.server_port}"] + common, work,
                    {"AWSIOT_TUNNEL_ACCESS_TOKEN": tunnel["destinationAccessToken"]})
        children.append(dst)
        dst.wait_for(r"Successfully established websocket connection")
        say("destination localproxy connected (the device side)")
        with socket.socket() as probe:  # a free port for the operator's side
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        src = Child("source", [os.path.join(BIN, "localproxy"), "-s", f"WEB={free}"] + common, work,
                    {"AWSIOT_TUNNEL_ACCESS_TOKEN": tunnel["sourceAccessToken"]})
        children.append(src)
        local = int(src.wait_for(r"Listening for new connection on port (\d+)").group(1))
        say(f"source localproxy listening on 127.0.0.1:{local} (the operator side)")

        page = urllib.request.urlopen(f"http://127.0.0.1:{local}/index.html", timeout=20)
        say(f"GET /index.html through the tunnel: {page.status} {page.read().decode().strip()}")
        t0 = time.monotonic()
        got = hashlib.sha256()
        n = 0
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/big.bin", timeout=60) as r:
            while block := r.read(1 << 20):
                got.update(block)
                n += len(block)
        seconds = time.monotonic() - t0
        ok = n == SIZE and got.hexdigest() == digest.hexdigest()
        say(f"GET /big.bin: {n / 2**20:.0f} MiB in {seconds:.2f} s ({n / 2**20 / seconds:.0f} MiB/s), "
            f"sha256 {'matches' if ok else 'DIFFERS'}")
        for c in (src, dst):
            say(f"{c.name} stopped with exit status {c.stop()}")
        say("done" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        for c in reversed(children):
            c.stop()
        if web:
            web.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
