#!/bin/bash
# The lab's traffic scenario as a test: two client hosts (network
# namespaces) talk to TCPechod while tcpdump captures; both addresses show
# SYN, SYN-ACK, ACK, data, echo and FIN; the side that closes first holds
# TIME_WAIT.  Skipped without root or tcpdump.  See lab/traffic.sh.
# Namespaces and a capture: run by `make lab-check`, skipped by `make check`.
[ "${LAB_HEAVY:-0}" = 1 ] || { echo "1..0 # SKIP heavy: run by make lab-check"; exit 0; }
LAB_TAP=1 exec "$(dirname "$0")/../lab/traffic.sh"
