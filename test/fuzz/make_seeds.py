#!/usr/bin/env python3
"""Writes the seed corpora in test/fuzz/corpus/<target>/ (a handful of inputs each).

Run it again after changing an input layout of a target: python3 test/fuzz/make_seeds.py
The binary seeds use a small protobuf writer that follows proto/message.proto (the same bytes as
the project's encoder, which the frame decoder target checks against protobuf-lite).
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

DATA, STREAM_START, STREAM_RESET, SESSION_RESET, SERVICE_IDS, CONNECTION_START, CONNECTION_RESET = range(1, 8)


def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field_varint(number, v):
    return varint(number << 3) + varint(v)


def field_bytes(number, b):
    if isinstance(b, str):
        b = b.encode()
    return varint((number << 3) | 2) + varint(len(b)) + b


def message(type_, stream=None, service=None, connection=None, payload=b"", ids=(), ignorable=False):
    body = field_varint(1, type_)
    if stream is not None:
        body += field_varint(2, stream)
    if ignorable:
        body += field_varint(3, 1)
    if payload:
        body += field_bytes(4, payload)
    if service is not None:
        body += field_bytes(5, service)
    for i in ids:
        body += field_bytes(6, i)
    if connection is not None:
        body += field_varint(7, connection)
    return body


def frame(body):
    return struct.pack(">H", len(body)) + body


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frame_decoder():
    # first byte: number of cuts (low 4 bits) and limits (bits 4-5); then 16-bit cuts; then the stream
    def seed(name, stream, cuts=(), limits=0):
        write("frame_decoder", name, bytes([len(cuts) | (limits << 4)]) + b"".join(struct.pack(">H", c) for c in cuts) + stream)

    session = (frame(message(SERVICE_IDS, ids=["SSH", "WEB"]))
               + frame(message(STREAM_START, 1, "SSH", 1))
               + frame(message(DATA, 1, "SSH", 1, b"hello"))
               + frame(message(CONNECTION_START, 1, "SSH", 2))
               + frame(message(CONNECTION_RESET, 1, "SSH", 2))
               + frame(message(STREAM_RESET, 1, "SSH"))
               + frame(message(SESSION_RESET)))
    seed("v3-session", session, cuts=(1, 7, 7, 30))
    seed("v1-data", frame(message(STREAM_START, 1)) + frame(message(DATA, 1, payload=b"x" * 100)), cuts=(3,))
    seed("length-zero", frame(b"") + frame(message(DATA, 1, payload=b"a")))
    # a body of exactly 0xFFFF bytes: the largest payload, padded with an unknown field
    big = message(DATA, 2, payload=b"p" * 64512)
    pad = 0xFFFF - len(big) - 3
    seed("length-ffff", frame(big + field_bytes(15, b"u" * pad)), cuts=(1, 2, 40000))
    seed("length-ffff-over", b"\xff\xff" + message(DATA, 2, payload=b"p" * 65527))
    seed("max-payload", frame(message(DATA, 3, "SSH", 1, b"m" * 64512)), cuts=(2, 64000))
    seed("over-limit", frame(message(DATA, 3, payload=b"o" * 1500)), limits=1)
    seed("bad-protobuf", frame(b"\x08\x01\x12\xff\xff\xff\xff\x0f") + frame(b"\x0f\x00"))
    seed("unknown-ignorable", frame(message(42, 1, ignorable=True)) + frame(message(DATA, -1, connection=0xFFFFFFFF)))
    seed("split-prefix", frame(message(DATA, 7, "WEB", 3, b"abc")) * 3, cuts=(1, 2, 3, 4, 5, 6))


def session():
    # configure(): mode byte (bit 0 source; bits 1-2 subprotocol; bits 3-4 -y; bit 5 retries;
    # bits 6-7 stall timeout), layout byte (bit 0 unnamed; bit 1 two services; bits 2-5 targets);
    # then ops: low 4 bits of the op byte: 1-7 a message of that type (ids byte: bits 0-2 stream,
    # 3-4 service, 5-7 connection; flags byte; payload length for DATA), 8 SERVICE_IDS (mask),
    # 9 flush, 10 poll, 11 wait 1 ms, 12 local socket action, 13 adopt, 14 junk, 15 block writes.
    def msg(t, stream_i=0, service_i=0, conn_i=0, flags=0, length=None):
        out = bytes([t, stream_i | (service_i << 3) | (conn_i << 5), flags])
        if t == DATA or flags & 0x10:
            out += bytes([length if length is not None else 5])
        return out

    ssh, web, unnamed = 0, 1, 2
    poll, wait = bytes([10, 31]), bytes([11])
    flush = bytes([9, 0])
    app_write = lambda i=0, n=5: bytes([12, i, n])
    app_read = lambda i=0: bytes([12, i | (1 << 5), 0])
    app_close = lambda i=0: bytes([12, i | (3 << 5), 0])
    adopt = lambda s=0: bytes([13, s])

    # destination V3, SSH on a Unix listener
    write("session", "dst-v3-unix",
          bytes([0b100, 0b0000]) + bytes([8, 0b1]) + msg(STREAM_START, 0, ssh, 0) + flush + poll + wait + poll
          + msg(DATA, 0, ssh, 0) + flush + poll + app_read() + poll + app_write() + poll
          + msg(CONNECTION_START, 0, ssh, 1) + flush + poll + wait + poll + msg(CONNECTION_RESET, 0, ssh, 1) + flush + poll
          + msg(STREAM_RESET, 0, ssh, 0) + flush + poll)
    # destination V3, two services, TCP listener and refused port
    write("session", "dst-two-services",
          bytes([0b100, 0b10 | (1 << 4)]) + bytes([8, 0b11]) + msg(STREAM_START, 0, ssh, 0)
          + msg(STREAM_START, 1, web, 0) + flush + poll + wait + wait + poll + msg(DATA, 1, web, 0) + flush + poll
          + app_close() + poll + wait + poll)
    # destination V2 (no connection IDs), data over the queue limit with the app not reading
    write("session", "dst-v2-backpressure",
          bytes([0b010, 0b0000]) + bytes([8, 0b1]) + msg(STREAM_START, 0, ssh, 0, 0b100) + flush + poll + wait + poll
          + msg(DATA, 0, ssh, 0, 0b100 | 0x20, 40) + msg(DATA, 0, ssh, 0, 0b100 | 0x20, 40) + flush + poll + wait + wait
          + poll + app_read() + poll)
    # destination V1 (no service IDs at all), unnamed mapping
    write("session", "dst-v1",
          bytes([0b000, 0b1]) + msg(STREAM_START, 0, unnamed, 0, 0b110) + flush + poll + wait + poll
          + msg(DATA, 0, unnamed, 0, 0b110) + flush + poll + msg(STREAM_START, 1, unnamed, 0, 0b110) + flush + poll + wait)
    # source V3: clients adopted, the destination's data and resets come back
    write("session", "src-v3",
          bytes([0b101 | (2 << 3), 0b0]) + bytes([8, 0b1]) + poll + adopt() + poll + app_write() + poll
          + msg(DATA, 0, ssh, 0) + flush + poll + app_read() + poll + adopt() + poll
          + msg(CONNECTION_RESET, 0, ssh, 1) + flush + poll + app_close() + poll)
    # source -y V1 against a 3.0 service, a second client refused
    write("session", "src-y-v1",
          bytes([0b101, 0b1]) + bytes([8, 0]) + poll + adopt(unnamed) + adopt(unnamed) + poll
          + msg(DATA, 0, unnamed, 0, 0b110) + flush + poll + msg(STREAM_RESET, 0, unnamed, 0, 0b110) + flush + poll)
    # junk and a protocol violation (STREAM_START to a source)
    write("session", "src-violation",
          bytes([0b101, 0b0]) + bytes([8, 0b1]) + poll + msg(STREAM_START, 0, ssh, 0) + flush + poll)
    write("session", "dst-junk", bytes([0b100, 0b0]) + bytes([8, 0b1, 14, 5]) + b"\x00\x03\x08" + flush + poll)
    # a slow service: writes blocked while clients send
    write("session", "src-slow-service",
          bytes([0b101, 0b0]) + bytes([8, 0b1]) + poll + bytes([15]) + adopt() + adopt() + poll
          + app_write(0, 0x80 | 64) + app_write(1, 0x80 | 64) + poll + wait + bytes([15]) + poll)


def http_connect():
    for name, text in {
        "200": "HTTP/1.1 200 Connection established\r\n\r\n",
        "200-headers": "HTTP/1.0 200 OK\r\nProxy-Agent: squid\r\nContent-Length: 0\r\n\r\n",
        "407": "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n",
        "401": "HTTP/1.1 401 Unauthorized\r\n\r\n",
        "502": "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\n\r\n",
        "garbage": "SSH-2.0-OpenSSH_9.2\r\n\r\n",
        "no-blank-line!": "HTTP/1.1 200 OK\r\n!",
        "101": "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
    }.items():
        write("http_connect", name, text)


def websocket_handshake():
    ok = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Protocol: {PROTO}\r\nchannel-id: abc123\r\n\r\n")
    marker = "@@FRAMES@@\n"

    def ws_frame(opcode, payload, fin=True):
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([n])
        elif n < 65536:
            head += bytes([126]) + struct.pack(">H", n)
        else:
            head += bytes([127]) + struct.pack(">Q", n)
        return head + payload

    write("websocket_handshake", "101-ok", ok)
    write("websocket_handshake", "101-frames", ok.encode() + marker.encode() + ws_frame(2, frame(message(SERVICE_IDS, ids=["SSH"])))
          + ws_frame(9, b"ping") + ws_frame(2, b"ab", fin=False) + ws_frame(0, b"cd") + ws_frame(8, b"\x03\xe8bye"))
    write("websocket_handshake", "101-text-frame", ok.encode() + marker.encode() + ws_frame(1, b"text"))
    write("websocket_handshake", "101-too-big", ok.encode() + marker.encode() + ws_frame(2, b"z" * 5000))
    write("websocket_handshake", "101-wrong-protocol", ok.replace("{PROTO}", "aws.iot.securetunneling-2.0"))
    write("websocket_handshake", "101-bad-accept", ok.replace("{ACCEPT}", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="))
    write("websocket_handshake", "403", "HTTP/1.1 403 Forbidden\r\nchannel-id: c\r\nContent-Length: 9\r\n\r\nForbidden")
    write("websocket_handshake", "500", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
    write("websocket_handshake", "truncated", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")


def config_parsers():
    for name, text in {
        "host": "data.tunneling.iot.us-east-1.amazonaws.com", "host-port": "localhost:8443",
        "wss": "wss://example.com:443/", "ws": "ws://127.0.0.1:9000", "v6": "[::1]:443",
        "path": "wss://example.com/x", "region": "us-west-2", "china": "cn-north-1",
    }.items():
        write("endpoint", name, text)
    for name, text in {
        "plain": "http://proxy:3128", "https": "https://proxy.example.com:8443/", "bare": "proxy:8080",
        "user": "http://user:p%40ss+word@proxy:3128", "v6": "http://[::1]:3128", "no-port": "http://proxy",
        "bad-escape": "http://user:secretpassword%zz@proxy:3128", "scheme": "socks5://proxy:1080",
    }.items():
        write("web_proxy_url", name, text)
    for name, text in {
        "suffix": ".example.com\na.example.com", "star": "*\nanything", "wildcard": "*.example.com:443\nb.example.com",
        "ip": "10.0.0.1,127.0.0.1\n127.0.0.1", "v6": "[::1]\n[::1]", "none": "other.org\nexample.com",
        "list": " foo , bar.baz ,, \nx.bar.baz",
    }.items():
        write("no_proxy", name, text)
    # first byte: bit 0 destination
    for name, (mode, text) in {
        "port": (0, "5555"), "named": (0, "SSH1=5555,WEB=8080"), "bind": (0, "SSH1=127.0.0.1:5555"),
        "dst-host": (1, "host:22"), "dst-v6": (1, "[::1]:22"), "dst-unix": (1, "APP=/run/app.sock"),
        "dst-list": (1, "SSH1=22,WEB=192.168.1.2:80"), "dup": (1, "A=1,A=2"), "mixed": (0, "5555,WEB=1"),
    }.items():
        write("mappings", name, bytes([mode]) + text.encode())
    write("settings_json", "empty-object", "{}")
    write("settings_json", "reference", '{"tunneling":{"proxy":{"tcp":{"connection_retry_count":"5",'
          '"max_active_connections":128},"websocket":{"ping_period_ms":"20000","reconnect_on_data_error":"true",'
          '"subprotocol":"aws.iot.securetunneling-2.0"},"message":{"max_payload_size":64512}}}}')
    write("settings_json", "overrides", '{"tunneling":{"proxy":{"region_endpoint_overrides":{"us-east-1":"localhost:8443"},'
          '"endpoint_format":"x.%s.example"}}}')
    write("settings_json", "bad-type", '{"tunneling":{"proxy":{"tcp":{"stall_timeout_ms":true}}}}')
    write("settings_json", "unknown-key", '{"tunneling":{"proxy":{"websocket":{"nope":1}}}}')
    write("settings_json", "ranges", '{"tunneling":{"proxy":{"websocket":{"retry_delay_ms":5000,"retry_delay_max_ms":100}}}}')
    # first byte: environment (1 token, 2 region, 4 https_proxy, 8 no_proxy) and extra options
    for name, (env, text) in {
        "source": (0x01, "region = us-east-1\nsource-listen-port = SSH1=5555\n"),
        "destination": (0x03, "# device\ndestination-app = SSH=22,WEB=80\nverbose = 5\n"),
        "endpoint": (0x01, "proxy-endpoint = ws://localhost:8443\n; comment\ndestination-app = 22\nno-ssl-host-verify = true\n"),
        "proxy": (0x07, "web-proxy = http://user:pw@proxy:3128\nsource-listen-port = 5555\n"),
        "errors": (0x11, "[section]\nregion\n = x\n"),
        "clash": (0x13, "region = us-east-1\nproxy-endpoint = localhost\n"),
        "tokens": (0x02, "access-token = abc\nclient-token = 0123456789abcdef0123456789abcdef\ndestination-app = 22\n"),
    }.items():
        write("config_file", name, bytes([env]) + text.encode())
    for name, args in {
        "source": ["-r", "us-east-1", "-s", "5555"],
        "destination": ["-r", "cn-north-1", "-d", "SSH=22,WEB=/run/web.sock", "-v", "6"],
        "endpoint": ["-e", "wss://localhost:8443", "-s", "SSH1=127.0.0.1:5555", "-y", "V2", "-k"],
        "proxy": ["--region", "us-west-2", "-d", "22", "--web-proxy", "https://[::1]:3128"],
        "bad": ["-s", "5555", "-d", "22", "-r", "x"],
        "help": ["-h"],
        "stray": ["-r", "us-east-1", "-s", "1", "stray-value"],
    }.items():
        write("command_line", name, "\0".join(args))


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    frame_decoder()
    session()
    http_connect()
    websocket_handshake()
    config_parsers()


if __name__ == "__main__":
    main()
