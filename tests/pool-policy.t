#!/bin/bash
# Unit tests of the pools' sizing policy (engine/pools/policy.c): patience, the
# listener's backlog, max, and no growth for a backlog during EMFILE.
exec "${HELP:-$(dirname "$0")/../build/tests}/unit_pool"
