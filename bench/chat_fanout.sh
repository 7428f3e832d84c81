#!/usr/bin/env bash
# Chat fan-out: one sender, R receivers (default 500), L lines of 64 bytes (default 2,000),
# sent as fast as possible, through `sockit chat serve` and through `ncat --chat --max-conns
# 5000`, same load generator, same run. Prints delivered lines a second for both, p99 delivery
# latency, and the ratio sockit/ncat (above 1: sockit delivers faster). Then the latency run:
# 1,000 receivers, 100 lines sent at 20 a second (a room that is busy, not flooded), p99 and
# median delivery latency for both. ncat prefixes per read(), not per line, so the generator
# counts payload markers, not lines. Last, the same flat-out run with R WebSocket receivers
# (GET /ws on the chat port, frames read as bytes) against R line receivers, both through sockit
# in this run: target within 1.5x of the line clients.
source "$(dirname "$0")/lib.sh"
build_sockit
command -v ncat >/dev/null || { echo "ncat is not installed"; exit 1; }
R=${R:-500} L=${L:-2000}
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$work"' EXIT
gen() {  # gen PORT RECEIVERS LINES PACE [ws] -> "rate p99_ms delivered p50_ms"; PACE 0: flat out
  python3 - "$@" <<'PY'
import base64, os, socket, sys, resource, selectors, time
port, r, l, pace = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ws = len(sys.argv) > 5 and sys.argv[5] == "ws"
def upgrade(s):
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + b"\r\n\r\n")
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
sel = selectors.DefaultSelector()
count, tail, lat = {}, {}, []
def settle(timeout):
    for key, _ in sel.select(timeout):
        try: key.fileobj.recv(1 << 20)
        except BlockingIOError: pass
for i in range(r):
    try: s = socket.create_connection(("127.0.0.1", port), timeout=30)
    except OSError as e: print(f"0 - 0 - the server took {i} of {r} clients, then: {e}"); sys.exit()
    if ws: upgrade(s)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ); count[s] = 0; tail[s] = b""
    # Read welcomes and join notices as they come: a server may stop accepting while it waits.
    if i % 10 == 0: settle(0)
t_end = time.time() + 0.5
while time.time() < t_end: settle(0.1)
sender = socket.create_connection(("127.0.0.1", port))
sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sent_at = {}
t0 = time.time()
def send(i):
    sent_at[i] = time.time()
    sender.sendall(b"M%06d:" % i + b"x" * 56 + b"\n")
def drain(timeout):
    global done
    for key, _ in sel.select(timeout):
        s = key.fileobj
        try: d = s.recv(1 << 20)
        except BlockingIOError: continue
        if not d: sel.unregister(s); continue
        buf = tail[s] + d
        now = time.time()
        idx = 0
        while True:
            j = buf.find(b"M", idx)
            if j < 0 or j + 8 > len(buf): break
            if buf[j+7:j+8] == b":" and buf[j+1:j+7].isdigit():
                n = int(buf[j+1:j+7]); count[s] += 1; done += 1
                if pace or n % 20 == 0: lat.append(now - sent_at.get(n, now))
            idx = j + 1
        tail[s] = buf[-8:]
done = 0
if pace:
    # Paced: send each line on time and read in between.
    for i in range(l):
        send(i)
        while time.time() < t0 + (i + 1) / pace: drain(max(0, t0 + (i + 1) / pace - time.time()))
else:
    for i in range(l):
        send(i)
        # Read now and then: a server that cannot write to the receivers stops reading the sender.
        if i % 50 == 0: drain(0)
deadline = time.time() + 60
while done < r * l and time.time() < deadline:
    drain(0.5)
el = time.time() - t0
lat.sort()
p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else 0
p50 = lat[len(lat) // 2] * 1000 if lat else 0
print(f"{int(done / el)} {p99:.1f} {done} {p50:.1f}")
PY
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A fresh port for every server: the last run's thousand closing connections stay behind.
serve_sockit() { port=$(free_port); "$SOCKIT" chat serve --port "$port" --bind 127.0.0.1 --no-discovery >/dev/null 2>&1 & srv=$!; sleep 0.5; }
serve_ncat() { port=$(free_port); ncat --chat --max-conns 5000 -l 127.0.0.1 "$port" >/dev/null 2>&1 & srv=$!; sleep 0.5; }
stop() { kill $srv; wait $srv 2>/dev/null || true; }
serve_sockit; read -r s_rate s_p99 s_done _ s_why < <(gen "$port" "$R" "$L" 0); stop
serve_ncat; read -r n_rate n_p99 n_done _ n_why < <(gen "$port" "$R" "$L" 0); stop
echo "sockit chat: $s_rate lines/s delivered ($s_done of $((R * L))), p99 latency $s_p99 ms $s_why"
echo "ncat --chat: $n_rate lines/s delivered ($n_done of $((R * L))), p99 latency $n_p99 ms $n_why"
echo "ratio sockit/ncat = $(ratio "$s_rate" "$n_rate")"
serve_sockit; read -r _ s_p99 s_done s_p50 s_why < <(gen "$port" 1000 100 20); stop
serve_ncat; read -r _ n_p99 n_done n_p50 n_why < <(gen "$port" 1000 100 20); stop
echo "1,000 receivers, 100 lines at 20/s: sockit p99 $s_p99 ms, median $s_p50 ms ($s_done of 100000 delivered) $s_why"
echo "1,000 receivers, 100 lines at 20/s: ncat   p99 $n_p99 ms, median $n_p50 ms ($n_done of 100000 delivered) $n_why"
serve_sockit; read -r l_rate l_p99 l_done _ l_why < <(gen "$port" "$R" "$L" 0); stop
serve_sockit; read -r w_rate w_p99 w_done _ w_why < <(gen "$port" "$R" "$L" 0 ws); stop
echo "sockit, $R line receivers:      $l_rate lines/s delivered ($l_done of $((R * L))), p99 latency $l_p99 ms $l_why"
echo "sockit, $R WebSocket receivers: $w_rate lines/s delivered ($w_done of $((R * L))), p99 latency $w_p99 ms $w_why"
echo "ratio line/WebSocket = $(ratio "$l_rate" "$w_rate") (target: at most 1.5)"
