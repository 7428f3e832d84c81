# Shared helpers for bench/*.sh: build once, time commands, take medians.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Loads of 10,000 connections need more descriptors than a shell's usual limit: as far up as
# the system allows (root may raise the hard limit; others keep theirs).
ulimit -Hn "$(cat /proc/sys/fs/nr_open)" 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true

# Build the release binary once and point SOCKIT at it; SOCKIT_BIN=PATH times another
# binary instead (an older build, beside the new one), nothing built.
build_sockit() {
  if [ -n "${SOCKIT_BIN:-}" ]; then
    SOCKIT=$SOCKIT_BIN
    return
  fi
  cargo build --release --quiet -p sockit-cli
  SOCKIT="$PWD/target/release/sockit"
}

# The static build beside it (glibc linked in, position-independent; see README's "A static
# build"), in SOCKIT_STATIC. Built for the host's triple so that build scripts and proc macros
# stay dynamic; the first build takes a few minutes.
build_sockit_static() {
  local triple
  triple=$(rustc -vV | sed -n 's/^host: //p')
  cargo build --release --quiet -p sockit-cli --target "$triple" \
    --config "target.$triple.rustflags=[\"-C\", \"target-feature=+crt-static\"]"
  SOCKIT_STATIC="$PWD/target/$triple/release/sockit"
}

# median_us ROUNDS ITERS CMD...: median over ROUNDS of the mean wall time (microseconds) of
# ITERS runs of CMD, its output discarded.
median_us() {
  local rounds=$1 iters=$2; shift 2
  local times=() r i t0 t1
  for ((r = 0; r < rounds; r++)); do
    t0=$(date +%s%N)
    for ((i = 0; i < iters; i++)); do "$@" >/dev/null 2>&1; done
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / iters / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# median: the middle of the numbers on stdin.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# paired_us ROUNDS ITERS CMD_A... -- CMD_B...: A and B timed in alternating rounds of ITERS
# runs each (so a slower or faster spell of the machine falls on both); prints the median of
# A's and of B's rounds, microseconds per run.
paired_us() {
  local rounds=$1 iters=$2; shift 2
  local a=() b=() x in_b=0
  for x in "$@"; do
    if ((in_b)); then b+=("$x"); elif [[ $x == -- ]]; then in_b=1; else a+=("$x"); fi
  done
  local ta=() tb=() r i t0 t1 t2
  for ((r = 0; r < rounds; r++)); do
    t0=$(date +%s%N)
    for ((i = 0; i < iters; i++)); do "${a[@]}" >/dev/null 2>&1; done
    t1=$(date +%s%N)
    for ((i = 0; i < iters; i++)); do "${b[@]}" >/dev/null 2>&1; done
    t2=$(date +%s%N)
    ta+=($(((t1 - t0) / iters / 1000)))
    tb+=($(((t2 - t1) / iters / 1000)))
  done
  echo "$(printf '%s\n' "${ta[@]}" | median) $(printf '%s\n' "${tb[@]}" | median)"
}

# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Chat loads with chat-load (bench/load), for scripts that define `serve WHO` (a fresh server:
# its port in $port, its pid in $srv) and LOAD (chat-load's path).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; }
stop() { kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null || true; srv=; }
load() {  # load WHO ARGS...: one run on a fresh server, chat-load's line
  local who=$1; shift
  serve "$who"
  local out
  out=$(timeout 120 "$LOAD" --port "$port" --threads "${THREADS:-2}" "$@") || true
  echo "${out:-error=no answer within 120 s}"
  stop
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
median_of() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
