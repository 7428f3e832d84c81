#!/usr/bin/env bash
# Port forwarding throughput on loopback: SIZE bytes of zeros (default 2 GiB) from `sockit tcp
# connect` through a relay into `sockit tcp listen` and on to /dev/null, the relay being
# `sockit relay tcp-listen:.. tcp:..` or `socat TCP-LISTEN:..,fork TCP:..`, beside the same
# transfer with no relay at all, in one run. Prints the median MB/s of each and the ratio
# sockit/socat (target: at least 1.5).
source "$(dirname "$0")/lib.sh"
build_sockit
command -v socat >/dev/null || { echo "socat is not installed"; exit 1; }
MIB=${MIB:-2048} ROUNDS=${ROUNDS:-3}
bytes=$((MIB * 1048576))
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
listening() { for _ in $(seq 100); do grep -q ":$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp && return; sleep 0.02; done; }

# through NAME RELAY_CMD(with $IN and $OUT) -> median MB/s over ROUNDS; RELAY_CMD "" is direct.
through() {
  local name=$1 relay=$2 times=() r t0 t1 rpid=""
  for ((r = 0; r < ROUNDS; r++)); do
    local out in
    out=$(free)
    "$SOCKIT" tcp listen "$out" --bind 127.0.0.1 </dev/null >/dev/null 2>&1 &
    local spid=$!
    listening "$out"
    in=$out
    if [ -n "$relay" ]; then
      in=$(free)
      IN=$in OUT=$out bash -c "$relay" </dev/null >/dev/null 2>&1 &
      rpid=$!
      listening "$in"
    fi
    t0=$(date +%s%N)
    dd if=/dev/zero bs=1M count="$MIB" 2>/dev/null | "$SOCKIT" tcp connect 127.0.0.1 "$in" >/dev/null 2>&1
    wait $spid
    t1=$(date +%s%N)
    [ -n "$rpid" ] && { kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null || true; }
    times+=($(( bytes * 1000 / (t1 - t0) )))
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-28s %6s MB/s (rounds: %s)\n' "$name" "$med" "${times[*]}" >&2
  echo "$med"
}

d=$(through "direct (no relay)" "")
s=$(through "sockit relay" "exec $SOCKIT relay tcp-listen:127.0.0.1:\$IN tcp:127.0.0.1:\$OUT")
c=$(through "socat TCP-LISTEN,fork TCP" "exec socat TCP-LISTEN:\$IN,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:\$OUT")
echo "ratio sockit/socat = $(ratio "$s" "$c") (target 1.5); sockit relay/direct = $(ratio "$s" "$d")"
