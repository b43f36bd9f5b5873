#!/bin/bash
# The lab's SIGPIPE scenario as a test: TCPechod's handler runs in the child
# writing to a reset connection, the default disposition kills that child,
# ignoring it leaves EPIPE; the server survives; a client's handler runs.
# See lab/sigpipe.sh.
LAB_TAP=1 exec "$(dirname "$0")/../lab/sigpipe.sh"
