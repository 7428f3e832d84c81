#!/usr/bin/env bash
# Full-range TCP connect scan of 127.0.0.1: sockit against `nmap -sT -p- -n -Pn` in the same
# run, several rounds. Every round both must find the same open ports. Prints median wall
# times, sockit's peak memory and the ratio (below 1: sockit is faster).
source "$(dirname "$0")/lib.sh"
build_sockit
for t in nmap /usr/bin/time; do command -v $t >/dev/null || { echo "$t is not installed (apt-get install nmap time)"; exit 1; }; done
ROUNDS=${ROUNDS:-5}
work=$(mktemp -d)
trap 'kill $listeners 2>/dev/null; rm -rf "$work"' EXIT

# A few listeners of our own, so there is something to find.
python3 -c '
import socket, sys, time
ls = [socket.socket() for _ in range(5)]
for s in ls: s.bind(("127.0.0.1", 0)); s.listen()
open(sys.argv[1], "w").write("listening")
time.sleep(600)' "$work/ready" &
listeners=$!
# Scan only once every listener is up (a fixed sleep lost the race on a loaded machine).
for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done

s_times=() n_times=() peak=0
for ((r = 0; r < ROUNDS; r++)); do
  t0=$(date +%s%N)
  /usr/bin/time -f %M -o "$work/mem" "$SOCKIT" scan 127.0.0.1 -p all --open --json >"$work/s.json"
  t1=$(date +%s%N)
  nmap -sT -p- -n -Pn -oG "$work/n.txt" 127.0.0.1 >/dev/null
  t2=$(date +%s%N)
  s_times+=($(( (t1 - t0) / 1000 ))) n_times+=($(( (t2 - t1) / 1000 )))
  mem=$(cat "$work/mem"); ((mem > peak)) && peak=$mem
  s_open=$(python3 -c 'import json,sys; print(" ".join(str(p["port"]) for p in json.load(open(sys.argv[1]))["hosts"][0]["ports"]))' "$work/s.json")
  n_open=$(grep -o '[0-9]*/open/' "$work/n.txt" | cut -d/ -f1 | sort -n | tr '\n' ' ' | sed 's/ $//')
  [ "$s_open" = "$n_open" ] || { echo "round $r: open sets differ: sockit [$s_open] nmap [$n_open]"; exit 1; }
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
s=$(med "${s_times[@]}") n=$(med "${n_times[@]}")
echo "open ports, identical in all $ROUNDS rounds: $s_open"
echo "sockit scan -p all   $((s / 1000)) ms   peak memory $((peak / 1024)) MB"
echo "nmap -sT -p-         $((n / 1000)) ms"
echo "ratio sockit/nmap = $(ratio "$s" "$n")"
