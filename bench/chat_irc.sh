#!/usr/bin/env bash
# IRC members on the chat port against line members, in one run: the same paste (1 sender,
# 2,000 lines of 64 bytes in 256 KiB writes, 500 receivers; chat-load --irc registers each
# connection, joins the channel and sends PRIVMSGs) to sockit with 500 IRC members and with 500
# line members (target: IRC at least 0.9x line). ROUNDS rounds (default 3), medians of
# deliveries a second, a fresh server for each load. Then the memory of 2,000 idle IRC members
# against 2,000 idle line members (target: at most 1.5x).
source "$(dirname "$0")/lib.sh"
build_sockit
cargo build --release --quiet -p chat-load
LOAD="$PWD/target/release/chat-load"
ROUNDS=${ROUNDS:-3}
srv=
trap '[ -n "$srv" ] && kill $srv 2>/dev/null' EXIT
serve() {  # serve sockit: a fresh server; its port in $port
  port=$(free_port)
  "$SOCKIT" chat serve --port "$port" --bind 127.0.0.1 --no-discovery >/dev/null 2>&1 &
  srv=$!
  wait_port "$port"
}

paste=(--receivers 500 --lines 2000 --paste 262144)
line_rates=() irc_rates=()
for _ in $(seq "$ROUNDS"); do
  l=$(load sockit "${paste[@]}"); line_rates+=("$(field rate "$l")")
  i=$(load sockit "${paste[@]}" --irc '#sockit'); irc_rates+=("$(field rate "$i")")
done
l_rate=$(median_of "${line_rates[@]}") i_rate=$(median_of "${irc_rates[@]}")
echo "paste, 500 receivers, 2,000 lines in 256 KiB writes (lines delivered a second, median of $ROUNDS):"
echo "  line members: $l_rate (rounds: ${line_rates[*]}; last: $l)"
echo "  IRC members:  $i_rate (rounds: ${irc_rates[*]}; last: $i)"
echo "  ratio IRC/line = $(ratio "$i_rate" "$l_rate") (target: at least 0.9)"

# Idle memory: 2,000 members that stay connected, IRC against line.
idle() {  # idle line|irc: the server's RSS growth (KiB) for 2,000 idle members
  serve sockit
  local pid=$srv before after
  before=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  python3 - "$port" "$1" <<'PY' &
import selectors, socket, sys, time
port, kind = int(sys.argv[1]), sys.argv[2]
sel = selectors.DefaultSelector()
def drain(wait):
    for key, _ in sel.select(wait):
        try:
            key.fileobj.recv(65536)
        except OSError:
            pass
for i in range(2000):
    s = socket.create_connection(("127.0.0.1", port))
    if kind == "irc":
        s.sendall(f"NICK idle{i}\r\nUSER idle 0 * :idle\r\n".encode())
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    drain(0)
end = time.time() + 8
while time.time() < end:
    drain(0.1)
PY
  local py=$!
  sleep 6
  after=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  wait $py || true
  stop
  echo $((after - before))
}
l=$(idle line) i=$(idle irc)
echo "idle memory, 2,000 members: line +$l KiB, IRC +$i KiB: ratio IRC/line = $(ratio "$i" "$l") (target: at most 1.5)"
