#!/usr/bin/env bash
# `sockit lab`: each slide's whole run (a network of its own made, the calls, every frame
# captured, the ladder printed) timed as a normal user, median of ROUNDS, against issue 25's
# target of 2 s. As root, the slides run as uid 64999 (setpriv), as a student would run them.
source "$(dirname "$0")/lib.sh"
build_sockit
ROUNDS=${ROUNDS:-5}
as_user=()
if [ "$(id -u)" = 0 ]; then
  command -v setpriv >/dev/null || { echo "setpriv is not installed (apt-get install util-linux)"; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp "$SOCKIT" "$work/sockit" && chmod 755 "$work" "$work/sockit"
  SOCKIT="$work/sockit"
  as_user=(setpriv --reuid=64999 --regid=64999 --clear-groups)
fi
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for slide in tcp udp select names; do
  times=()
  for ((r = 0; r < ROUNDS; r++)); do
    t0=$(date +%s%N)
    "${as_user[@]}" "$SOCKIT" --json lab "$slide" >"${work:-/tmp}/lab-$slide.json"
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  frames=$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
if not r["captured"]: sys.exit("no capture: " + r.get("why_not", ""))
print(sum(len(s["frames"]) for s in r["steps"]))' "${work:-/tmp}/lab-$slide.json")
  m=$(med "${times[@]}")
  echo "sockit lab $slide   $((m / 1000)) ms, $frames frames   ratio to the 2 s target = $(ratio "$m" 2000000)"
done
