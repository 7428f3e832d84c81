#!/usr/bin/env bash
# One-shot commands start and finish in a few milliseconds: `sockit addr` against ipcalc,
# `sockit port` against getent and `sockit info` against `ip addr`, in the same run. Prints medians (µs per run) and ratios;
# a ratio below 1 means sockit is faster.
source "$(dirname "$0")/lib.sh"
build_sockit
command -v ipcalc >/dev/null || { echo "ipcalc is not installed (apt-get install ipcalc)"; exit 1; }
ROUNDS=${ROUNDS:-7} ITERS=${ITERS:-100}

addr_s=$(median_us "$ROUNDS" "$ITERS" "$SOCKIT" addr 192.168.1.10/24)
addr_r=$(median_us "$ROUNDS" "$ITERS" ipcalc 192.168.1.10/24)
port_s=$(median_us "$ROUNDS" "$ITERS" "$SOCKIT" port 22)
port_r=$(median_us "$ROUNDS" "$ITERS" getent services 22)
info_s=$(median_us "$ROUNDS" "$ITERS" "$SOCKIT" info)
info_r=$(median_us "$ROUNDS" "$ITERS" ip addr)
echo "sockit addr 192.168.1.10/24   ${addr_s} us"
echo "ipcalc 192.168.1.10/24        ${addr_r} us"
echo "sockit port 22                ${port_s} us"
echo "getent services 22            ${port_r} us"
echo "sockit info                   ${info_s} us"
echo "ip addr                       ${info_r} us"
echo "ratio sockit-port/getent = $(ratio "$port_s" "$port_r")"
echo "ratio sockit-info/ip-addr = $(ratio "$info_s" "$info_r")"
echo "ratio sockit-addr/ipcalc = $(ratio "$addr_s" "$addr_r")"
