#!/usr/bin/env bash
# IRC members on the chat port, in one run:
# - the same paste (1 sender, 2,000 lines of 64 bytes in 256 KiB writes, 500 receivers;
#   chat-load --irc registers each connection, joins the channel and sends PRIVMSGs) to sockit
#   with 500 IRC members and with 500 line members (target: IRC at least 0.9x line), beside
#   the kernel's floor for the same bytes (bench/floor/fan_lines.c writing each kind's
#   delivery size, as chat-load measured it, to 500 sockets): an IRC delivery is longer than a
#   line member's, and the floor tells what that alone costs;
# - the same IRC paste to Debian's ngircd and inspircd (target: sockit at least 2x each), each
#   told to take it: flood penalties off, buffers large;
# - the memory of 2,000 idle IRC members against 2,000 idle line members (target: at most 1.5x).
# ROUNDS rounds (default 3), medians of deliveries a second, a fresh server for each load.
source "$(dirname "$0")/lib.sh"
build_sockit
cargo build --release --quiet -p chat-load
LOAD="$PWD/target/release/chat-load"
ROUNDS=${ROUNDS:-3}
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
for tool in ngircd inspircd cc; do
  command -v "$tool" >/dev/null || { echo "chat_irc.sh: $tool is needed (Debian: apt-get install ngircd inspircd gcc)" >&2; exit 1; }
done
work=$(mktemp -d)
FLOOR="$work/fan_lines"
cc -O2 -o "$FLOOR" bench/floor/fan_lines.c
srv=
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; rm -rf "$work"' EXIT
serve() {  # serve sockit|ngircd|inspircd: a fresh server on 127.0.0.1; its port in $port
  port=$(free_port)
  case $1 in
    sockit) "$SOCKIT" chat serve --port "$port" --bind 127.0.0.1 --no-discovery >/dev/null 2>&1 & ;;
    ngircd)
      cat >"$work/ngircd.conf" <<CONF
[Global]
    Name = bench.local
    Info = bench
    Listen = 127.0.0.1
    Ports = $port
[Options]
    PAM = no
    Ident = no
    DNS = no
[Limits]
    MaxConnections = 0
    MaxConnectionsIP = 0
    MaxNickLength = 32
    MaxPenaltyTime = 0
CONF
      ngircd -n -f "$work/ngircd.conf" >/dev/null 2>&1 & ;;
    inspircd)
      # (netbuffersize: a read's size; inspircd reads a client once a wakeup, and a larger
      # value than 65,535 is taken as the default 10,240, which throttles a paste to about
      # 16 KB a second. Its resolver is pointed at loopback: it asks nothing of the machine's.)
      cat >"$work/inspircd.conf" <<CONF
<server name="bench.local" description="bench" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="$port" type="clients">
<connect name="bench" allow="127.0.0.1" timeout="60" threshold="1000000" commandrate="1000000000"
         fakelag="no" pingfreq="600" hardsendq="1073741824" softsendq="1073741824"
         recvq="1073741824" localmax="100000" globalmax="100000" resolvehostnames="no" useident="no">
<performance netbuffersize="65000" somaxconn="4096" softlimit="100000" clonesonconnect="no">
<dns server="127.0.0.1" timeout="1">
<pid file="$work/inspircd.pid">
<limits maxnick="32" maxchan="64">
CONF
      inspircd --nofork --runasroot --config="$work/inspircd.conf" >/dev/null 2>&1 & ;;
  esac
  srv=$!
  wait_port "$port"
}

paste=(--receivers 500 --lines 2000 --paste 262144)
line_rates=() irc_rates=() ng_rates=() in_rates=() fl_line=() fl_irc=()
for _ in $(seq "$ROUNDS"); do
  l=$(load sockit "${paste[@]}"); line_rates+=("$(field rate "$l")")
  i=$(load sockit "${paste[@]}" --irc '#sockit'); irc_rates+=("$(field rate "$i")")
  g=$(load ngircd "${paste[@]}" --irc '#sockit'); ng_rates+=("$(field rate "$g")")
  n=$(load inspircd "${paste[@]}" --irc '#sockit'); in_rates+=("$(field rate "$n")")
  fl_line+=("$(field rate "$("$FLOOR" 500 2000 2000 "$(field line_bytes "$l")")")")
  fl_irc+=("$(field rate "$("$FLOOR" 500 2000 2000 "$(field line_bytes "$i")")")")
done
l_rate=$(median_of "${line_rates[@]}") i_rate=$(median_of "${irc_rates[@]}")
g_rate=$(median_of "${ng_rates[@]}") n_rate=$(median_of "${in_rates[@]}")
fl_rate=$(median_of "${fl_line[@]}") fi_rate=$(median_of "${fl_irc[@]}")
echo "paste, 500 receivers, 2,000 lines in 256 KiB writes (lines delivered a second, median of $ROUNDS):"
echo "  sockit, line members: $l_rate (rounds: ${line_rates[*]}; last: $l)"
echo "  sockit, IRC members:  $i_rate (rounds: ${irc_rates[*]}; last: $i)"
echo "  ngircd, IRC members:  $g_rate (rounds: ${ng_rates[*]}; last: $g)"
echo "  inspircd, IRC:        $n_rate (rounds: ${in_rates[*]}; last: $n)"
echo "  floor, $(field line_bytes "$l")-byte lines: $fl_rate (rounds: ${fl_line[*]})"
echo "  floor, $(field line_bytes "$i")-byte lines: $fi_rate (rounds: ${fl_irc[*]})"
echo "  ratio IRC/line = $(ratio "$i_rate" "$l_rate") (target: at least 0.9); the floor's for the same bytes = $(ratio "$fi_rate" "$fl_rate")"
echo "  sockit IRC / ngircd = $(ratio "$i_rate" "$g_rate"), / inspircd = $(ratio "$i_rate" "$n_rate") (target: at least 2)"

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
