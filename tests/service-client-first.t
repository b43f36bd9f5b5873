#!/bin/bash
# service-client-first.t: every service flagged SVC_CLIENT_FIRST (its
# client speaks first, so the event loops defer the accept) emits nothing
# from start(); daytime, which greets, is seen to emit.  See
# tests/helpers/unit_client_first.c.
. "$(dirname "$0")/lib.sh"

U=$HELP/unit_client_first
[ -x "$U" ] || skip_all "$U is not built (make tools)"
"$U" "$T"
