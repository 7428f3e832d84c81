#!/usr/bin/env bash
# Chat fan-out and latency, `sockit chat serve` beside `ncat --chat` in the same run, both
# driven by chat-load (bench/load: a Rust load generator, receivers read on epoll, every line
# stamped with its sender, number and send time; ncat forwards reads, not lines, so lines are
# found by their stamps). A fresh server and port for every load. Loads:
#  1. paste: 1 sender writes 2,000 lines of 64 bytes in 256 KiB writes to 500 receivers;
#     deliveries a second. Targets: sockit at least 2x ncat, and at least 0.9x the kernel's
#     floor in the same rounds (bench/floor/fan_lines.c: one sender writing sockit's delivery
#     size to 500 sockets, the whole paste a write, a child reading: nothing else). Beside
#     it, the served floor: bench/floor/relay.c given the same paste by the same chat-load
#     (the kernel's part and chat-load's reading, as sockit is measured; it relays the
#     sender's bytes as they are, with no nick before each line). ROUNDS rounds (default 5),
#     medians.
#  2. flat out: the same, a write a line.
#  3. paced: 1,000 receivers, 100 lines at 20 a second: p50/p99 send-to-receipt; LAT_ROUNDS
#     rounds (default 3), medians. Target: p99 at most the floor's one-core time to write one
#     line to 1,000 sockets (fan_lines 1000 100 1: its CPU a delivery x 1,000). Beside it, the
#     paced floor: bench/floor/relay.c served to the same chat-load in the same rounds (a
#     relay that only writes what is said to everyone who has not spoken, a writing thread a
#     core, what piled up for a receiver in one write: the kernel's and the reader's part of
#     the load, measured as sockit is). Then sockit with one server thread on one core,
#     chat-load on the other.
#  4. paced: 10,000 receivers, 100 lines at 20 a second (LAT_ROUNDS rounds, medians), beside
#     the relay and one core's time to write a line to 10,000 sockets (fan_lines at the
#     largest count the open-file limit allows, its CPU a delivery x 10,000).
#  5. 100 senders x 100 lines at once into 1,000 receivers: every line delivered?
#  (ncat is run on every load; where it cannot hold the connections, its line says so.)
#  6. WebSocket members against line clients, 500 each, flat out, both through sockit.
source "$(dirname "$0")/lib.sh"
build_sockit
command -v ncat >/dev/null || { echo "ncat is not installed"; exit 1; }
cargo build --release --quiet -p chat-load
LOAD="$PWD/target/release/chat-load"
ROUNDS=${ROUNDS:-5}  # THREADS: chat-load's reading threads (2)
srv=
work=$(mktemp -d)
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; rm -rf "$work"' EXIT
FLOOR="$work/fan_lines" RELAY="$work/relay"
cc -O2 -o "$FLOOR" bench/floor/fan_lines.c
cc -O2 -pthread -o "$RELAY" bench/floor/relay.c
serve() {  # serve sockit|ncat: a fresh server; its port in $port
  port=$(free_port)
  case $1 in
    sockit) "$SOCKIT" chat serve --port "$port" --bind 127.0.0.1 --no-discovery >/dev/null 2>&1 & ;;
    ncat) ncat --chat --max-conns 5000 -l 127.0.0.1 "$port" >/dev/null 2>&1 & ;;
    relay) "$RELAY" "$port" 2 >/dev/null 2>&1 & ;;
  esac
  srv=$!
  wait_port "$port"
}

s_rates=() n_rates=() f_rates=() r_rates=()
for _ in $(seq "$ROUNDS"); do
  s=$(load sockit --receivers 500 --lines 2000 --paste 262144); s_rates+=("$(field rate "$s")")
  n=$(load ncat --receivers 500 --lines 2000 --paste 262144); n_rates+=("$(field rate "$n")")
  rl=$(load relay --receivers 500 --lines 2000 --paste 262144); r_rates+=("$(field rate "$rl")")
  f_rates+=("$(field rate "$("$FLOOR" 500 2000 2000 "$(field line_bytes "$s")")")")
done
s_rate=$(median_of "${s_rates[@]}") n_rate=$(median_of "${n_rates[@]}") f_rate=$(median_of "${f_rates[@]}")
r_rate=$(median_of "${r_rates[@]}")
echo "paste, 500 receivers, 2,000 lines in 256 KiB writes (lines delivered a second, median of $ROUNDS):"
echo "  sockit: $s_rate (rounds: ${s_rates[*]}; last: $s)"
echo "  ncat:   $n_rate (rounds: ${n_rates[*]}; last: $n)"
echo "  floor:  $f_rate (rounds: ${f_rates[*]}; $(field line_bytes "$s")-byte lines, the whole paste a write)"
echo "  ratio sockit/ncat = $(ratio "$s_rate" "$n_rate") (target: at least 2)"
echo "  relay:  $r_rate (rounds: ${r_rates[*]}; the served floor, bench/floor/relay.c read by the same chat-load; last: $rl)"
echo "  ratio sockit/floor = $(ratio "$s_rate" "$f_rate") (target: at least 0.9)"
echo "  ratio sockit/relay = $(ratio "$s_rate" "$r_rate") (the same reader; sockit's lines carry the sender's nick)"

s=$(load sockit --receivers 500 --lines 2000)
n=$(load ncat --receivers 500 --lines 2000)
echo "flat out, 500 receivers, 2,000 lines a write each:"
echo "  sockit: $s"
echo "  ncat:   $n"
echo "  ratio sockit/ncat = $(ratio "$(field rate "$s")" "$(field rate "$n")")"

paced() {  # paced RECEIVERS TARGET: LAT_ROUNDS rounds of 100 lines at 20/s, both servers and the relay
  local s_p99=() n_p99=() r_p99=() s_p50=() n_p50=() r_p50=() s n r
  for _ in $(seq "${LAT_ROUNDS:-3}"); do
    s=$(load sockit --receivers "$1" --lines 100 --rate 20); s_p99+=("$(field p99 "$s")"); s_p50+=("$(field p50 "$s")")
    n=$(load ncat --receivers "$1" --lines 100 --rate 20); n_p99+=("$(field p99 "$n")"); n_p50+=("$(field p50 "$n")")
    r=$(load relay --receivers "$1" --lines 100 --rate 20); r_p99+=("$(field p99 "$r")"); r_p50+=("$(field p50 "$r")")
  done
  echo "paced, $1 receivers, 100 lines at 20/s, p99 and p50 in ms, median of ${LAT_ROUNDS:-3} (target p99 under $2 ms):"
  s_p99_median=$(median_of "${s_p99[@]}") s_bytes=$(field line_bytes "$s")
  local r_p99_median
  r_p99_median=$(median_of "${r_p99[@]}")
  echo "  sockit: p99 $s_p99_median p50 $(median_of "${s_p50[@]}") (p99 rounds: ${s_p99[*]}; last: $s)"
  echo "  ncat:   p99 $(median_of "${n_p99[@]}") p50 $(median_of "${n_p50[@]}") (p99 rounds: ${n_p99[*]}; last: $n)"
  echo "  relay:  p99 $r_p99_median p50 $(median_of "${r_p50[@]}") (the paced floor, bench/floor/relay.c on two threads; p99 rounds: ${r_p99[*]}; last: $r)"
  echo "  ratio sockit p99/relay p99 = $(ratio "$s_p99_median" "$r_p99_median")"
  # One core's time to write one line to $1 sockets: fan_lines's CPU a delivery x $1, at the
  # largest count the open-file limit allows (it holds both ends of every connection).
  local fit=$(( ($(ulimit -n) - 64) / 2 )) f_ms=()
  ((fit > $1)) && fit=$1
  for _ in $(seq "${LAT_ROUNDS:-3}"); do
    f_ms+=("$(awk -v ns="$(field cpu_ns "$("$FLOOR" "$fit" $((fit > 2000 ? 20 : 100)) 1 "${s_bytes:-76}")")" -v n="$1" 'BEGIN { printf "%.2f", ns * n / 1e6 }')")
  done
  f_line=$(median_of "${f_ms[@]}")
  echo "  floor:  one core writes a line to $1 sockets in $f_line ms ($fit sockets measured; runs: ${f_ms[*]}); over both cores, the reader left none: $(awk -v a="$f_line" 'BEGIN { printf "%.2f", a / 2 }') ms"
  echo "  ratio sockit p99/floor = $(ratio "$s_p99_median" "$f_line") (target: at most 1)"
}
paced 1000 5
# The floor: the same load with one server thread on core 0 and chat-load on core 1.
port=$(free_port)
TOKIO_WORKER_THREADS=1 taskset -c 0 "$SOCKIT" chat serve --port "$port" --bind 127.0.0.1 --no-discovery >/dev/null 2>&1 &
srv=$!
wait_port "$port"
f=$(taskset -c 1 timeout 120 "$LOAD" --port "$port" --threads 1 --receivers 1000 --lines 100 --rate 20) || true
stop
echo "  one server thread on one core, chat-load on the other: $f"
echo "  (p99/1,000: what a delivery costs that core, mostly the kernel's loopback TCP send)"
paced 10000 40

s=$(load sockit --receivers 1000 --senders 100 --lines 100)
echo "100 senders x 100 lines at once into 1,000 receivers (every line delivered):"
n=$(load ncat --receivers 1000 --senders 100 --lines 100)
echo "  sockit: $s"
echo "  ncat:   $n"

l=$(load sockit --receivers 500 --lines 2000)
w=$(load sockit --receivers 500 --lines 2000 --ws)
echo "flat out through sockit, 500 line receivers against 500 WebSocket members:"
echo "  line:      $l"
echo "  WebSocket: $w"
echo "  ratio line/WebSocket = $(ratio "$(field rate "$l")" "$(field rate "$w")") (target: at most 1.5)"
