#!/bin/bash
# The lab's pools scenario as a test: fork, thread, prefork and prethread
# each serve 5,000 short connections, every one of them, byte-exact and
# without error (timings are printed, never asserted).  See lab/pools.sh.
# 20,000 connections: run by `make lab-check`, skipped by `make check`.
[ "${LAB_HEAVY:-0}" = 1 ] || { echo "1..0 # SKIP heavy: run by make lab-check"; exit 0; }
LAB_TAP=1 exec "$(dirname "$0")/../lab/pools.sh"
