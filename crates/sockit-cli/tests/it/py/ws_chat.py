"""WebSocket members of a sockit chat room, beside a line client, and hostile WebSocket peers.

argv: PORT. Uses the `websockets` package for well-behaved members and raw sockets for the
hostile ones (frames built here by hand). Prints one JSON object of what happened.
"""
import asyncio, base64, json, os, socket, struct, sys, time

import websockets

PORT = int(sys.argv[1])
URL = f"ws://127.0.0.1:{PORT}/ws"
out = {}


def frame(opcode, payload, fin=True):
    """A masked client frame."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_ws(origin=None, extra=b""):
    """A WebSocket handshake by hand; the socket and the status line of the answer."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if origin:
        req += f"Origin: {origin}\r\n"
    s.sendall(req.encode() + b"\r\n" + extra)
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    return s, head.split(b"\r\n")[0].decode(), rest


def close_code(s, rest=b"", secs=5):
    """Read server frames until a close frame; its code (None if the socket just ended)."""
    s.settimeout(secs)
    buf = rest
    end = time.time() + secs
    while time.time() < end:
        while len(buf) >= 2:
            op, n = buf[0] & 0x0F, buf[1] & 0x7F
            at = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, at = struct.unpack(">H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, at = struct.unpack(">Q", buf[2:10])[0], 10
            if len(buf) < at + n:
                break
            payload, buf = buf[at:at + n], buf[at + n:]
            if op == 8:
                return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return None
        if not chunk:
            return None
        buf += chunk
    return None


async def until(ws, pred, secs=5):
    """Messages until one satisfies pred; that one (None on timeout)."""
    try:
        async with asyncio.timeout(secs):
            while True:
                m = await ws.recv()
                if pred(m):
                    return m
    except TimeoutError:
        return None


async def members():
    line = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    line.sendall(b"/nick carl\n")
    async with websockets.connect(URL) as ann, websockets.connect(URL) as ben:
        out["welcome"] = await ann.recv()
        await ann.send("/nick ann")
        await until(ann, lambda m: "now known as ann" in m)
        await ben.send("/nick ben")
        await until(ann, lambda m: "now known as ben" in m)
        await ann.send("hello from ann")
        out["ben_hears_ann"] = await until(ben, lambda m: m.startswith("<ann>"))
        line.sendall(b"hi from carl\n")
        out["ann_hears_carl"] = await until(ann, lambda m: m.startswith("<carl>"))
        await ben.send("/me waves")
        out["ann_sees_action"] = await until(ann, lambda m: m.startswith("** ben"))
        await ben.send("/msg ann psst")
        out["ann_private"] = await until(ann, lambda m: m.startswith("*ben* "))
        out["ben_confirm"] = await until(ben, lambda m: m.startswith("* sent to"))
        await ann.send("/who")
        out["who"] = await until(ann, lambda m: m.startswith("* online"))
        await ann.send("multi\nline")
        out["one_frame_one_line"] = await until(ben, lambda m: m.startswith("<ann> multi"))
        await ann.send("x" * 5000)
        out["too_long"] = await until(ann, lambda m: "too long" in m)
        # Fragments: one message in three frames is one line.
        await ann.send(iter(["frag", "men", "ted"]))
        out["fragmented"] = await until(ben, lambda m: m.startswith("<ann> frag"))
        # A ping in a quiet room is answered at once.
        pong = await ann.ping(b"quiet")
        await asyncio.wait_for(pong, 5)
        out["pong"] = True
        # A ping flood: answered, and the room goes on.
        for _ in range(2000):
            await ann.ping()
        await ann.send("after the pings")
        out["after_pings"] = await until(ben, lambda m: "after the pings" in m)
        carl = b""
        line.settimeout(2)
        try:
            while b"after the pings" not in carl:
                carl += line.recv(65536)
        except socket.timeout:
            pass
        out["carl_lines"] = [l for l in carl.decode().split("\n") if l.startswith("<")]
    line.close()


def frames_until_end(s, secs=10):
    """Every server frame until the socket ends: [(opcode, payload)], or None on a timeout."""
    s.settimeout(secs)
    buf, got = b"", []
    while True:
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            return None
        except ConnectionResetError:
            chunk = b""
        buf += chunk
        while len(buf) >= 2:
            n, at = buf[1] & 0x7F, 2
            if n == 126 and len(buf) >= 4:
                n, at = struct.unpack(">H", buf[2:4])[0], 4
            elif n == 127 and len(buf) >= 10:
                n, at = struct.unpack(">Q", buf[2:10])[0], 10
            elif n >= 126 or len(buf) < at + n:
                break
            got.append((buf[0] & 0x0F, buf[at:at + n]))
            buf = buf[at + n:]
        if not chunk:
            return got


def hostile():
    # The client closes: one close frame comes back, with its code, and then the end.
    s, status, rest = raw_ws()
    s.sendall(frame(0x1, b"hello before closing") + frame(0x8, struct.pack(">H", 1000) + b"done"))
    got = frames_until_end(s)
    closes = [struct.unpack(">H", p[:2])[0] for op, p in got or [] if op == 8]
    out["client_close"] = (status, closes)
    # A client that pings and never reads: the server reads on, and answers the newest ping
    # only (RFC 6455 5.5.3): a few pongs, not one a ping.
    s, status, rest = raw_ws()
    s.sendall(frame(0x9, b"p" * 125) * 200_000)
    time.sleep(1)
    s.settimeout(3)
    got = rest
    try:
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    out["ping_flood"] = {"pongs": got.count(b"\x8a\x7d" + b"p" * 125), "bytes": len(got)}
    s, status, rest = raw_ws()
    s.sendall(frame(0x2, b"\x00\x01binary"))
    out["binary"] = (status, close_code(s, rest))
    s, status, rest = raw_ws()
    s.sendall(frame(0x1, b"\xff\xfe not utf-8"))
    out["bad_utf8"] = (status, close_code(s, rest))
    s, status, rest = raw_ws()
    s.sendall(frame(0x1, b"y" * 200_000))
    out["oversized"] = (status, close_code(s, rest))
    s, status, _ = raw_ws(origin="http://evil.example")
    out["evil_origin"] = status
    s, status, _ = raw_ws(origin=f"http://127.0.0.1:{PORT}")
    out["own_origin"] = status
    s, status, _ = raw_ws(origin="http://class.example:8080")
    out["allowed_origin"] = status
    # Slowloris: a request that never ends is dropped within the handshake time.
    s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    start = time.time()
    try:
        data = s.recv(100)
    except (socket.timeout, ConnectionResetError):
        data = b"?"
    out["slowloris"] = {"closed": data == b"", "after": round(time.time() - start, 1)}


asyncio.run(members())
hostile()
print(json.dumps(out))
