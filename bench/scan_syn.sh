#!/usr/bin/env bash
# SYN scan of every port of a neighbour across a veth pair (two namespaces made here and
# removed at the end; root): sockit --syn against `nmap -sS -p- -n -Pn` in the same run,
# several rounds, with four listeners open and one port an nft rule drops. Every round both
# must find the same open and filtered ports. Prints median wall times and the ratio (below 1:
# sockit is faster), and the floor of the sending: bench/floor/syn_send.c handing one SYN a
# port to the kernel on every core and nothing else, beside sockit's own sending phase (its
# first round, from its debug log), and beside it bench/floor/syn_send_packet.c, the same SYNs
# as Ethernet frames on an AF_PACKET socket (as masscan sends: no routing, no netfilter),
# and the same with a reader of the answers (the kernel's part of a whole scan: those frames
# sent and every answer read from a raw socket, until all 65,534 answering ports have).
# HOSTS=16: the neighbour answers on 16 addresses (198.18.0.2-17), every port of each scanned.
source "$(dirname "$0")/lib.sh"
build_sockit
for t in nmap nft ip python3 cc; do command -v $t >/dev/null || { echo "$t is not installed"; exit 1; }; done
ROUNDS=${ROUNDS:-5}
HOSTS=${HOSTS:-1}
a=sockit-syn-a-$$ b=sockit-syn-b-$$
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; ip netns del $a 2>/dev/null; ip netns del $b 2>/dev/null; rm -rf "$work"' EXIT
FLOOR="$work/syn_send"
cc -O2 -pthread -o "$FLOOR" bench/floor/syn_send.c
PACKET_FLOOR="$work/syn_send_packet"
cc -O2 -pthread -o "$PACKET_FLOOR" bench/floor/syn_send_packet.c
ip netns add $a && ip netns add $b
ip link add sa$$ netns $a type veth peer name sb$$ netns $b
ip -n $a addr add 198.18.0.1/24 dev sa$$
for ((h = 0; h < HOSTS; h++)); do ip -n $b addr add 198.18.0.$((2 + h))/24 dev sb$$; done
for n in $a $b; do ip -n $n link set lo up; done
ip -n $a link set sa$$ up && ip -n $b link set sb$$ up
ip netns exec $b python3 -c '
import socket, sys, time
ls = []
for p in (22, 80, 8080, 31337):
    s = socket.socket(); s.bind(("0.0.0.0", p)); s.listen(4096); ls.append(s)
open(sys.argv[1], "w").write("listening")
time.sleep(600)' "$work/ready" &
printf 'table inet f {\n chain in { type filter hook input priority 0;\n  tcp dport 9999 drop\n }\n}\n' | ip netns exec $b nft -f -
for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
mac_a=$(ip -n $a -br link show sa$$ | awk '{print $3}') mac_b=$(ip -n $b -br link show sb$$ | awk '{print $3}')

targets=198.18.0.2
[ "$HOSTS" -gt 1 ] && targets=198.18.0.2-$((1 + HOSTS))
s_times=() n_times=() sending=() floor=() packet_floor=() scan_floor=() floor_lost=()
for ((r = 0; r < ROUNDS; r++)); do
  t0=$(date +%s%N)
  ip netns exec $a "$SOCKIT" -vv --json scan --syn $targets -p all >"$work/s.json" 2>"$work/s.log"
  t1=$(date +%s%N)
  ip netns exec $a nmap -sS -p- -n -Pn -oG "$work/n.txt" $targets >/dev/null
  t2=$(date +%s%N)
  s_times+=($(( (t1 - t0) / 1000 ))) n_times+=($(( (t2 - t1) / 1000 )))
  sending+=($(sed -n 's/.*round=0 sending_ms=\([0-9]*\).*/\1/p' "$work/s.log"))
  floor+=($(ip netns exec $a "$FLOOR" 198.18.0.1 198.18.0.2 "$(nproc)"))
  packet_floor+=($(ip netns exec $a "$PACKET_FLOOR" 198.18.0.1 198.18.0.2 "$(nproc)" sa$$ "$mac_a" "$mac_b"))
  read -r ms answers < <(ip netns exec $a "$PACKET_FLOOR" 198.18.0.1 198.18.0.2 "$(nproc)" sa$$ "$mac_a" "$mac_b" 65534)
  # A floor that lost answers (its reader fell behind) waited out its two seconds: said below.
  [ "$answers" = 65534 ] || floor_lost+=("round $r: $answers")
  scan_floor+=("$ms")
  s_found=$(python3 -c '
import json, sys
for h in json.load(open(sys.argv[1]))["hosts"]:
    print(h["address"], " ".join(str(p["port"]) + "/" + p["state"] for p in h["ports"] if p["state"] != "closed"))' "$work/s.json")
  n_found=$(sed -n 's|^Host: \([0-9.]*\) .*Ports: \(.*\)|\1 \2|p' "$work/n.txt" | python3 -c '
import sys
for line in sys.stdin:
    host, ports = line.split(" ", 1)
    found = [p.split("/")[0] + "/" + p.split("/")[1] for p in ports.split("\t")[0].split(", ")]
    print(host, " ".join(sorted((f for f in found if not f.endswith("/closed")), key=lambda f: int(f.split("/")[0]))))')
  [ "$s_found" = "$n_found" ] || { echo "round $r: results differ: sockit [$s_found] nmap [$n_found]"; exit 1; }
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
s=$(med "${s_times[@]}") n=$(med "${n_times[@]}") send=$(med "${sending[@]}") fl=$(med "${floor[@]}")
pfl=$(med "${packet_floor[@]}") sfl=$(med "${scan_floor[@]}")
echo "$HOSTS host(s), open and filtered ports identical in all $ROUNDS rounds:"
echo "$s_found"
echo "sockit scan --syn -p all   $((s / 1000)) ms"
echo "nmap -sS -p-               $((n / 1000)) ms"
echo "ratio sockit/nmap = $(ratio "$s" "$n")"
echo "sockit's sending, first round ($HOSTS x 65,535 SYNs)   $send ms"
echo "floor: 65,535 SYNs handed to the kernel on $(nproc) cores (syn_send.c)   $fl ms"
echo "ratio sockit's sending / floor's, a host = $(ratio "$((send * 1000 / HOSTS))" "$((fl * 1000))")"
echo "floor as Ethernet frames on AF_PACKET, as masscan sends (syn_send_packet.c)   $pfl ms"
echo "floor of a whole scan: those frames sent and all 65,534 answers read (syn_send_packet.c ... 65534)   $sfl ms"
((${#floor_lost[@]} == 0)) || echo "  (the scan floor read fewer than 65,534 answers in: ${floor_lost[*]})"
echo "ratio sockit's whole run / the scan floor, a host = $(ratio "$((s / HOSTS))" "$((sfl * 1000))")"
