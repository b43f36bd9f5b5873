#!/bin/bash
# Unit tests of lib/: parsing, addresses, I/O loops, the signal self-pipe.
exec "${HELP:-$(dirname "$0")/../build/tests}/unit_lib"
