#!/bin/bash
# The lab's file-server scenario as a test: an iterative file server keeps a
# second client waiting through a slow download, the fork model does not,
# and strace shows the file leaving in a few sendfile calls.  See
# lab/file-server.sh.
LAB_TAP=1 exec "$(dirname "$0")/../lab/file-server.sh"
