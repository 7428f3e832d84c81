#!/usr/bin/env bash
# A million idle line clients on one chat server: N clients (default 1,000,000) held by
# chat-load --hold (bench/load: a descriptor and a byte each, one epoll, no thread a client),
# spread over source addresses 127.1.0.1 on (each has its own ephemeral ports) so that one
# server port holds them all. Then one line said by another client must reach every one, and
# then they all leave. Prints the server's memory a client (RSS growth / clients held), the
# kernel's (its slab's growth / clients: both ends of each connection), the time the line
# took, and how much of the server's growth it gave back once the room was empty. Targets:
# at most 6 KiB a client on the server, the line to all within 5 s, the memory given back.
#
# Both processes need a descriptor a client: the open-file limit is raised as far as the
# system lets this shell (root with CAP_SYS_RESOURCE: up to fs.nr_open); where it stops
# short of N, the run holds what the limit allows and says what stopped it.
source "$(dirname "$0")/lib.sh"
build_sockit
cargo build --release --quiet -p chat-load
LOAD="$PWD/target/release/chat-load"
N=${N:-1000000}
SPARE=100  # descriptors each process keeps besides its clients
srv=
work=$(mktemp -d)
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; rm -rf "$work"' EXIT
limit=$(ulimit -Sn)
held_to=$N
if [ "$limit" -lt $((N + SPARE)) ]; then
  held_to=$((limit - SPARE))
  echo "stopped by: the open-file limit is $limit (hard $(ulimit -Hn); fs.nr_open $(cat /proc/sys/fs/nr_open)) and this shell may not raise it (that needs CAP_SYS_RESOURCE): $held_to clients, not $N"
fi
sources=$(( (held_to + 4999) / 5000 ))  # 5,000 a source address (of its 28,000-odd ports: a bind finds a free one at once)
port=$(free_port)
"$SOCKIT" chat serve --port "$port" --bind 127.0.0.1 --no-discovery --max-clients "$((N + 10))" >/dev/null 2>"$work/err" &
srv=$!
wait_port "$port"
sed 's/^/server: /' "$work/err"
rss() { awk '/VmRSS/ {print $2}' "/proc/$srv/status"; }
out=$("$LOAD" --port "$port" --hold "$held_to" --sources "$sources" --pid "$srv")
echo "$out"
start=$(sed -n 's/^start=.* rss_kib=\([0-9]*\) slab_kib=\([0-9]*\).*/\1 \2/p' <<<"$out")
held_line=$(grep '^held=' <<<"$out")
reach_line=$(grep '^reached=' <<<"$out")
read -r rss0 slab0 <<<"$start"
held=$(field held "$held_line")
rss1=$(field rss_kib "$held_line")
slab1=$(field slab_kib "$held_line")
# Everyone has left once the room says so (members here: 0); then its memory is read.
for _ in $(seq 300); do
  members=$(exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
    sed -n 's/^sockit_chat_members{where="here"} //p' <&3)
  [ "$members" = 0 ] && break
  sleep 0.1
done
# The server gives memory back a round or two (2 s each) after its members leave.
rss2=$(rss)
for _ in $(seq 10); do
  sleep 1
  now=$(rss)
  [ "$now" = "$rss2" ] && break
  rss2=$now
done
awk -v n="$held" -v asked="$N" -v r0="$rss0" -v r1="$rss1" -v r2="$rss2" -v s0="$slab0" -v s1="$slab1" \
  -v reached="$(field reached "$reach_line")" -v secs="$(field reach_secs "$reach_line")" \
  -v conn="$(field connect_secs "$held_line")" -v left="$members" 'BEGIN {
  printf "clients held: %d of %d asked, connected in %s s\n", n, asked, conn
  printf "server memory a client: %.2f KiB (RSS %d KiB -> %d KiB; target at most 6 KiB)\n", (r1 - r0) / n, r0, r1
  printf "kernel memory a client: %.2f KiB (its slab grew %d KiB: both ends of each connection)\n", (s1 - s0) / n, s1 - s0
  printf "one line reached %d of %d clients in %s s (target: all within 5 s)\n", reached, n, secs
  printf "after all left (members here: %s): server RSS %d KiB, %.0f%% of its growth given back\n", left, r2, 100 * (r1 - r2) / (r1 - r0)
}'
