#!/bin/sh
# The provider test server that tests/embed-http.sh speaks to answers as
# its documentation says: every endpoint, every fault, the log, the key
# check and its stopping (tests/provider-server-selftest.py).
. "${top_srcdir:-.}/tests/lib.sh"

command -v "$py" > /dev/null || { echo "python3 is needed"; exit 77; }
run "$py" "$top_srcdir/tests/provider-server-selftest.py"
expect_status 0
check "[ ! -s '$out' ]" "the self-test reported failures: $(cat "$out" 2>/dev/null)"
finish
