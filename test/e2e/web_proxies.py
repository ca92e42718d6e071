"""Web proxies for the end-to-end tests: a real tinyproxy (optionally behind a socat TLS front),
and a scripted fake proxy for misbehaviour (split replies, 502, silence)."""
import contextlib
import os
import shutil
import socket
import threading
import time

from harness import Proc, free_port

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
SOCAT = shutil.which("socat") or "/usr/bin/socat"


def start_tinyproxy(test, name, user=None, password=None):
    port = free_port()
    conf = os.path.join(test.dir, name + ".conf")
    with open(conf, "w") as f:
        f.write(f"Port {port}\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\nLogLevel Info\nMaxClients 100\n")
        if user:
            f.write(f"BasicAuth {user} {password}\n")
    p = Proc(name, [TINYPROXY, "-d", "-c", conf], test.dir)
    test.procs.append(p)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return port, p
        time.sleep(0.05)
    raise AssertionError(f"{name} did not start:\n{p.tail()}")


def start_tls_front(test, name, target_port):
    """socat terminating TLS (the tunnel-service's localhost certificate) in front of a proxy."""
    certs = os.path.join(test.dir, "certs")
    port = free_port()
    args = [SOCAT, f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0,"
                   f"cert={certs}/server.pem,key={certs}/server.key", f"TCP:127.0.0.1:{target_port}"]
    p = Proc(name, args, test.dir)
    test.procs.append(p)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return port
        time.sleep(0.05)
    raise AssertionError(f"{name} did not start:\n{p.tail()}")


class FakeProxy:
    """mode: 'split' answers 200 in small pieces then relays; '502' answers Bad Gateway; 'silent'
    never answers. Records every request it received."""

    def __init__(self, mode):
        self.mode = mode
        self.requests = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with contextlib.suppress(OSError):
            head = b""
            while b"\r\n\r\n" not in head:
                b = c.recv(1)
                if not b:
                    return
                head += b
            self.requests.append(head.decode(errors="replace"))
            if self.mode == "silent":
                time.sleep(30)
                return
            if self.mode == "502":
                c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            target = head.split(b" ")[1].decode()
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection(("127.0.0.1", int(port)))
            for piece in (b"HTTP/1.1 2", b"00 Connection", b" established\r\n", b"Proxy-Agent: fake\r\n", b"\r", b"\n"):
                c.sendall(piece)
                time.sleep(0.05)
            self._splice(c, upstream)

    @staticmethod
    def _splice(a, b):
        def pump(x, y):
            with contextlib.suppress(OSError):
                while True:
                    d = x.recv(65536)
                    if not d:
                        break
                    y.sendall(d)
            with contextlib.suppress(OSError):
                y.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=pump, args=(b, a), daemon=True)
        t.start()
        pump(a, b)
        t.join(30)

    def close(self):
        self.sock.close()
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.close()
