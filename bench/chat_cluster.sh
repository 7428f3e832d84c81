#!/usr/bin/env bash
# Chat cluster: one nats-server on 127.0.0.1 and three `sockit chat serve --cluster` servers.
# R receivers (default 1,500) spread over the three, one sender on the first server. Beside it,
# in the same run, the same load on one server alone (bench/chat_fanout.sh's load).
#  1. Paced: 100 lines at 20 a second. p99 and median send-to-receipt latency for receivers
#     on the sender's server and on the others. Target: cross-server p99 within 2x of
#     same-server p99.
#  2. Flat out: L lines (default 2,000) of 64 bytes as fast as they go. Deliveries a second,
#     cluster against one server. Target: the cluster at least half of one server.
#  3. IDLE idle clients (default 30,000) over the three servers: memory per client (RSS growth
#     of the three servers / IDLE). Target: at most 16 KiB, as for one server.
source "$(dirname "$0")/lib.sh"
build_sockit
command -v nats-server >/dev/null || { echo "nats-server is not installed (apt-get install nats-server)"; exit 1; }
R=${R:-1500} L=${L:-2000} IDLE=${IDLE:-30000}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { python3 -c '
import socket, sys, time
for _ in range(200):
    try: socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close(); sys.exit()
    except OSError: time.sleep(0.05)
sys.exit("nothing listens on " + sys.argv[1])' "$1"; }
broker=$(free_port)
nats-server -a 127.0.0.1 -p "$broker" >/dev/null 2>&1 & pids+=($!)
wait_port "$broker"
# serve NAME [--cluster]: a fresh server on a fresh port; its port in $port, its pid in $srv.
serve() {
  port=$(free_port)
  local cluster=()
  [ "${2:-}" = --cluster ] && cluster=(--cluster "nats://127.0.0.1:$broker" --node "$1")
  "$SOCKIT" chat serve --port "$port" --bind 127.0.0.1 --no-discovery "${cluster[@]}" >/dev/null 2>&1 &
  srv=$!; pids+=($srv)
  wait_port "$port"
}
stop_all_servers() { for p in "${servers[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done; servers=(); }
# gen LINES PACE SENDER_PORT PORT... : R receivers spread over the PORTs, the sender on
# SENDER_PORT. Prints "rate delivered p99_same p50_same p99_other p50_other" (ms; - for none).
gen() {
  python3 - "$R" "$@" <<'PY'
import socket, sys, resource, selectors, time
r, l, pace, sport = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
ports = [int(p) for p in sys.argv[5:]]
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
sel = selectors.DefaultSelector()
tail, same = {}, {}
lat = {True: [], False: []}
def settle(timeout):
    for key, _ in sel.select(timeout):
        try: key.fileobj.recv(1 << 20)
        except BlockingIOError: pass
for i in range(r):
    p = ports[i % len(ports)]
    s = socket.create_connection(("127.0.0.1", p), timeout=30)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ); tail[s] = b""; same[s] = p == sport
    if i % 10 == 0: settle(0)
t_end = time.time() + 1.0
while time.time() < t_end: settle(0.1)
sender = socket.create_connection(("127.0.0.1", sport))
sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sent_at = {}
t0 = time.time()
done = 0
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
                n = int(buf[j+1:j+7]); done += 1
                if pace or n % 20 == 0: lat[same[s]].append(now - sent_at.get(n, now))
            idx = j + 1
        tail[s] = buf[-8:]
if pace:
    for i in range(l):
        send(i)
        while time.time() < t0 + (i + 1) / pace: drain(max(0, t0 + (i + 1) / pace - time.time()))
else:
    for i in range(l):
        send(i)
        if i % 50 == 0: drain(0)
deadline = time.time() + 60
while done < r * l and time.time() < deadline:
    drain(0.5)
el = time.time() - t0
def pct(xs, q):
    xs.sort()
    return f"{xs[min(len(xs) - 1, int(len(xs) * q))] * 1000:.1f}" if xs else "-"
print(int(done / el), done, pct(lat[True], 0.99), pct(lat[True], 0.5), pct(lat[False], 0.99), pct(lat[False], 0.5))
PY
}
servers=()
serve solo; servers+=($srv); one=$port
read -r o_rate o_done o_p99 o_p50 _ _ < <(gen 100 20 "$one" "$one")
stop_all_servers
serve a --cluster; servers+=($srv); pa=$port
serve b --cluster; servers+=($srv); pb=$port
serve c --cluster; servers+=($srv); pc=$port
sleep 1
read -r c_rate c_done c_p99s c_p50s c_p99o c_p50o < <(gen 100 20 "$pa" "$pa" "$pb" "$pc")
stop_all_servers
echo "paced, $R receivers, 100 lines at 20/s:"
echo "  one server:                  p99 $o_p99 ms, median $o_p50 ms ($o_done of $((R * 100)) delivered)"
echo "  cluster, sender's server:    p99 $c_p99s ms, median $c_p50s ms"
echo "  cluster, the other servers:  p99 $c_p99o ms, median $c_p50o ms ($c_done of $((R * 100)) delivered)"
echo "  ratio cross-server/same-server p99 = $(ratio "$c_p99o" "$c_p99s") (target: at most 2)"

serve solo; servers+=($srv); one=$port
read -r o_rate o_done _ _ _ _ < <(gen "$L" 0 "$one" "$one")
stop_all_servers
serve a --cluster; servers+=($srv); pa=$port
serve b --cluster; servers+=($srv); pb=$port
serve c --cluster; servers+=($srv); pc=$port
sleep 1
read -r c_rate c_done _ _ _ _ < <(gen "$L" 0 "$pa" "$pa" "$pb" "$pc")
echo "flat out, $R receivers, $L lines:"
echo "  one server: $o_rate lines/s delivered ($o_done of $((R * L)))"
echo "  cluster:    $c_rate lines/s delivered ($c_done of $((R * L)))"
echo "  ratio cluster/one server = $(ratio "$c_rate" "$o_rate") (target: at least 0.5)"

# Idle clients: a holder process a server (the per-process descriptor limit), all at once.
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
before=0; for p in "${servers[@]}"; do before=$((before + $(rss "$p"))); done
per=$((IDLE / 3))
for p in "$pa" "$pb" "$pc"; do
  python3 - "$p" "$per" "$work/held.$p" <<'PY' &
import resource, socket, sys, time
port, n, flag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setblocking(False); socks.append(s)
    if i % 200 == 0:
        for x in socks[-200:]:
            try: x.recv(65536)
            except BlockingIOError: pass
open(flag, "w").close()
time.sleep(60)
PY
  pids+=($!)
done
for p in "$pa" "$pb" "$pc"; do
  for _ in $(seq 1200); do [ -e "$work/held.$p" ] && break; sleep 0.1; done
done
sleep 4  # the welcomes and the presence lists settle
after=0; for p in "${servers[@]}"; do after=$((after + $(rss "$p"))); done
echo "idle: $IDLE clients over three servers, RSS $before KiB -> $after KiB"
echo "  memory per client: $(awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN { printf "%.1f", (a - b) / n }') KiB (target: at most 16)"
