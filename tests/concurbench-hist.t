#!/bin/bash
# Unit tests of concurbench's latency histogram: layout, 1% error bound, merge
# (the helper built for the binaries under test: $HELP, as tests/lib.sh sets it).
exec "${HELP:-$(dirname "$0")/../build/tests}/bench_hist"
