#!/bin/bash
# Unit tests of concurbench's latency histogram: layout, 1% error bound, merge.
exec "$(dirname "$0")/../build/tests/bench_hist"
