#!/bin/bash
# The lab's processes-and-threads scenario as a test: fork copies memory,
# threads share it (lost updates without a mutex), a thread per client is
# one process.  See lab/processes-threads.sh.
LAB_TAP=1 exec "$(dirname "$0")/../lab/processes-threads.sh"
