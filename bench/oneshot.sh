#!/usr/bin/env bash
# One-shot commands start and finish in about a millisecond. Each is paired with the C tool
# beside it, the two timed in alternating rounds: `sockit port` and `sockit addr` against
# `getent services`, `sockit info` against `ip addr`, `sockit --version` against `true`, and
# `sockit addr` against ipcalc; for the default build and for the static one (README: "A
# static build"). Prints medians (µs per run) and ratios; below 1, sockit is faster.
source "$(dirname "$0")/lib.sh"
build_sockit
build_sockit_static
command -v ipcalc >/dev/null || { echo "ipcalc is not installed (apt-get install ipcalc)"; exit 1; }
ROUNDS=${ROUNDS:-9} ITERS=${ITERS:-100}

pair() { # LABEL_A LABEL_B CMD_A... -- CMD_B...
  local la=$1 lb=$2; shift 2
  read -r a b < <(paired_us "$ROUNDS" "$ITERS" "$@")
  printf '%-36s %6s us   %-24s %6s us   ratio %s\n' "$la" "$a" "$lb" "$b" "$(ratio "$a" "$b")"
}

for build in default static; do
  bin=$SOCKIT
  [ "$build" = static ] && bin=$SOCKIT_STATIC
  pair "sockit port 22 ($build)" "getent services 22" "$bin" port 22 -- getent services 22
  pair "sockit addr 192.168.1.10/24 ($build)" "getent services 22" "$bin" addr 192.168.1.10/24 -- getent services 22
  pair "sockit info ($build)" "ip addr" "$bin" info -- ip addr
  pair "sockit --version ($build)" "true" "$bin" --version -- /bin/true
done
pair "sockit addr 192.168.1.10/24" "ipcalc 192.168.1.10/24" "$SOCKIT" addr 192.168.1.10/24 -- ipcalc 192.168.1.10/24
