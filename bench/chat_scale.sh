#!/usr/bin/env bash
# Chat server at scale: N idle clients (default 10,000) held by one Python process on
# loopback; reports the server's memory per client (RSS growth / N) and checks that one line
# still reaches every client. Target: at most 16 KiB per client. KIND=ws holds WebSocket
# members instead (GET /ws on the chat port); target: at most 32 KiB per client. EXTRA adds
# flags to chat serve (EXTRA=--no-web: line clients without the browser check).
source "$(dirname "$0")/lib.sh"
build_sockit
N=${N:-10000} KIND=${KIND:-line}
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$work"' EXIT
"$SOCKIT" chat serve --port 0 --bind 127.0.0.1 --no-discovery ${EXTRA:-} >/dev/null 2>"$work/err" &
srv=$!
for _ in $(seq 100); do grep -q "(tcp)" "$work/err" && break; sleep 0.05; done
port=$(sed -n 's/.*on 127.0.0.1:\([0-9]*\) (tcp).*/\1/p' "$work/err")
rss() { awk '/VmRSS/ {print $2}' /proc/$srv/status; }
before=$(rss)
python3 - "$port" "$N" "$srv" "$before" "$KIND" <<'PY'
import base64, os, socket, sys, resource, selectors, time
port, n, srv, before, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
sel = selectors.DefaultSelector()
got, welcomed = {}, set()
def drain(t):
    for key, _ in sel.select(t):
        try: d = key.fileobj.recv(65536)
        except BlockingIOError: continue
        if not d: sel.unregister(key.fileobj); continue
        if b"welcome" in d: welcomed.add(key.fileobj)
        if b"<speaker> ping" in d: got[key.fileobj] = True
socks = []
t0 = time.time()
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if kind == "ws":
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.b64encode(os.urandom(16)) + b"\r\n\r\n")
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ); socks.append(s)
    if i % 100 == 0: drain(0)
# Every client welcomed (a silent one is, once the server has waited 200 ms for it to speak),
# then the join notices settle.
while len(welcomed) < n and time.time() - t0 < 60: drain(0.1)
connect_s = time.time() - t0
while True:
    before_drain = time.time(); drain(0.2)
    if time.time() - before_drain > 0.15: break
rss = int([l for l in open(f"/proc/{srv}/status") if l.startswith("VmRSS")][0].split()[1])
sp = socket.create_connection(("127.0.0.1", port)); sp.sendall(b"/nick speaker\nping\n")
t1 = time.time()
while time.time() - t1 < 30 and len(got) < n: drain(0.1)
print(f"{n} idle {kind} clients connected in {connect_s:.1f} s; server RSS {before} KiB -> {rss} KiB")
print(f"memory per client: {(rss - before) * 1024 // n} bytes ({(rss - before) / n:.1f} KiB)")
print(f"one line reached {len(got)} of {n} clients in {time.time() - t1:.2f} s")
PY
