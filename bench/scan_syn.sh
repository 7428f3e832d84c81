#!/usr/bin/env bash
# SYN scan of every port of a neighbour across a veth pair (two namespaces made here and
# removed at the end; root): sockit --syn against `nmap -sS -p- -n -Pn` in the same run,
# several rounds, with four listeners open and one port an nft rule drops. Every round both
# must find the same open and filtered ports. Prints median wall times and the ratio (below 1:
# sockit is faster).
source "$(dirname "$0")/lib.sh"
build_sockit
for t in nmap nft ip python3; do command -v $t >/dev/null || { echo "$t is not installed"; exit 1; }; done
ROUNDS=${ROUNDS:-5}
a=sockit-syn-a-$$ b=sockit-syn-b-$$
work=$(mktemp -d)
trap 'ip netns del $a 2>/dev/null; ip netns del $b 2>/dev/null; rm -rf "$work"' EXIT
ip netns add $a && ip netns add $b
ip link add sa$$ netns $a type veth peer name sb$$ netns $b
ip -n $a addr add 198.18.0.1/24 dev sa$$ && ip -n $b addr add 198.18.0.2/24 dev sb$$
for n in $a $b; do ip -n $n link set lo up; done
ip -n $a link set sa$$ up && ip -n $b link set sb$$ up
ip netns exec $b python3 -c '
import socket, sys, time
ls = []
for p in (22, 80, 8080, 31337):
    s = socket.socket(); s.bind(("198.18.0.2", p)); s.listen(4096); ls.append(s)
open(sys.argv[1], "w").write("listening")
time.sleep(600)' "$work/ready" &
printf 'table inet f {\n chain in { type filter hook input priority 0;\n  tcp dport 9999 drop\n }\n}\n' | ip netns exec $b nft -f -
for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done

s_times=() n_times=()
for ((r = 0; r < ROUNDS; r++)); do
  t0=$(date +%s%N)
  ip netns exec $a "$SOCKIT" --json scan --syn 198.18.0.2 -p all >"$work/s.json"
  t1=$(date +%s%N)
  ip netns exec $a nmap -sS -p- -n -Pn -oG "$work/n.txt" 198.18.0.2 >/dev/null
  t2=$(date +%s%N)
  s_times+=($(( (t1 - t0) / 1000 ))) n_times+=($(( (t2 - t1) / 1000 )))
  s_found=$(python3 -c 'import json,sys; print(" ".join(str(p["port"]) + "/" + p["state"] for p in json.load(open(sys.argv[1]))["hosts"][0]["ports"] if p["state"] != "closed"))' "$work/s.json")
  n_found=$(grep -o '[0-9]*/\(open\|filtered\)/' "$work/n.txt" | sed 's|/$||' | sort -n | tr '\n' ' ' | sed 's/ $//')
  [ "$s_found" = "$n_found" ] || { echo "round $r: results differ: sockit [$s_found] nmap [$n_found]"; exit 1; }
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
s=$(med "${s_times[@]}") n=$(med "${n_times[@]}")
echo "open and filtered ports, identical in all $ROUNDS rounds: $s_found"
echo "sockit scan --syn -p all   $((s / 1000)) ms"
echo "nmap -sS -p-               $((n / 1000)) ms"
echo "ratio sockit/nmap = $(ratio "$s" "$n")"
