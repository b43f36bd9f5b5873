#!/bin/bash
# The lab's concurrent-versus-sequential scenario as a test: the iterative
# server keeps a second client waiting, TCPechod serves each client at once
# with its own child.  See lab/concurrent-vs-sequential.sh.
LAB_TAP=1 exec "$(dirname "$0")/../lab/concurrent-vs-sequential.sh"
