#!/bin/bash
# The lab's zombies scenario as a test: with TCPechod's reaper no child is
# left <defunct>, without it every finished child is.  See lab/zombies.sh.
LAB_TAP=1 exec "$(dirname "$0")/../lab/zombies.sh"
