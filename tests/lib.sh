# tests/lib.sh - the shell test harness, sourced by every tests/*.sh.
#
# Puts the built programs first on PATH (wrapped in valgrind when
# RAG_VALGRIND=1), gives each test a scratch directory, and offers:
#
#   run CMD...            run a command line (through sh -c when it is one
#                         argument), keeping its stdout in $out, its
#                         stderr in $err and its exit status in $status
#   expect_status N       $status is N
#   expect_out TEXT       stdout is exactly TEXT (a trailing newline added)
#   expect_err TEXT       stderr is exactly TEXT
#   expect_err_has TEXT   stderr contains TEXT
#   expect_out_has TEXT   stdout contains TEXT
#   expect_lines N        stdout has N lines
#   check COND MESSAGE    fail with MESSAGE unless the shell test COND holds
#   fail MESSAGE          record a failure
#   finish                print the tally and exit 0, or 1 after failures
#
# A failure does not stop the script, so one run shows every problem.

set -u
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
export LC_ALL=C

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ragtest.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
bin="$scratch/.bin"
mkdir -p "$bin"
for p in "$top_builddir"/rag "$top_builddir"/rag-*; do
	[ -x "$p" ] && [ -f "$p" ] || continue
	name=$(basename "$p")
	if [ "${RAG_VALGRIND:-0}" = 1 ]; then
		cat > "$bin/$name" <<WRAP
#!/bin/sh
exec valgrind -q --error-exitcode=99 --suppressions="$top_srcdir/tests/valgrind.supp" --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --trace-children=no "$p" "\$@"
WRAP
		chmod +x "$bin/$name"
	else
		ln -s "$p" "$bin/$name"
	fi
done
PATH="$bin:$PATH"
export PATH
# No configuration file but the one a test writes: never the user's.
unset RAGKIT_CONFIG
XDG_CONFIG_HOME="$scratch/.config"
export XDG_CONFIG_HOME
# Nor the user's caches, models, keys or proxies: model servers are the tests' own.
XDG_CACHE_HOME="$scratch/.cache"
export XDG_CACHE_HOME
unset RAG_EMBED_MODEL RAG_CHAT_MODEL OPENAI_API_KEY OPENAI_BASE_URL OLLAMA_HOST
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
cd "$scratch" || exit 99

data="$top_srcdir/tests/data"
shared_data="$top_srcdir/../shared/data"
checks=0
failures=0
out="$scratch/.out"
err="$scratch/.err"
status=0
test_name=$(basename "$0" .sh)
provider_pid=
# The system's python3 when there is one (a version manager's shim costs a
# third of a second a call).
py=/usr/bin/python3
[ -x "$py" ] || py=python3

# Starts tests/provider-server.py (extra arguments are its own) and sets
# $provider (http://127.0.0.1:PORT) and $provider_log (the requests it got).
# It stops when the test ends.
start_provider()
{
	provider_log="$scratch/.provider.log"
	rm -f "$scratch/.provider.port"
	"$py" "$top_srcdir/tests/provider-server.py" --port-file "$scratch/.provider.port" \
		--log "$provider_log" --parent-pid $$ "$@" 2> "$scratch/.provider.err" &
	provider_pid=$!
	trap 'kill $provider_pid 2>/dev/null; wait $provider_pid 2>/dev/null; rm -rf "$scratch"' EXIT
	i=0
	while [ ! -s "$scratch/.provider.port" ]; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 $provider_pid 2>/dev/null; then
			echo "$test_name: the provider test server did not start" >&2
			cat "$scratch/.provider.err" >&2
			exit 99
		fi
		sleep 0.05
	done
	provider="http://127.0.0.1:$(cat "$scratch/.provider.port")"
}

# Queues faults for the next requests: provider_fault '{"status": 500}' ...
provider_fault()
{
	for f in "$@"; do
		"$py" - "$provider" "$f" <<'PY' || { echo "$test_name: cannot queue a fault" >&2; exit 99; }
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/_control", method="POST",
                             data=json.dumps({"faults": [json.loads(sys.argv[2])]}).encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
PY
	done
}

# Forgets queued faults and the requests logged so far.
provider_reset()
{
	"$py" -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_control", method="DELETE"), timeout=10).read()' "$provider"
	: > "$provider_log"
}

fail()
{
	failures=$((failures + 1))
	printf 'FAIL %s: %s\n' "$test_name" "$*" >&2
	if [ -s "$err" ]; then
		printf '  stderr was:\n' >&2
		sed 's/^/    /' "$err" | head -n 20 >&2
	fi
}

run()
{
	checks=$((checks + 1))
	if [ $# -eq 1 ]; then
		sh -c "$1" > "$out" 2> "$err"
	else
		"$@" > "$out" 2> "$err"
	fi
	status=$?
	last_cmd="$*"
	if [ "$status" = 99 ]; then
		fail "valgrind reported errors in: $last_cmd"
	elif [ "$status" -ge 126 ]; then
		fail "crashed or could not run (status $status): $last_cmd"
	fi
}

expect_status()
{
	[ "$status" = "$1" ] || fail "expected status $1, got $status: $last_cmd"
}

expect_out()
{
	printf '%s\n' "$1" > "$scratch/.want"
	cmp -s "$out" "$scratch/.want" || {
		fail "unexpected output from: $last_cmd"
		diff -u "$scratch/.want" "$out" | head -n 30 >&2
	}
}

expect_err()
{
	if [ -z "$1" ]; then
		[ -s "$err" ] && fail "expected no messages from: $last_cmd"
		return 0
	fi
	printf '%s\n' "$1" > "$scratch/.want"
	cmp -s "$err" "$scratch/.want" || {
		fail "unexpected messages from: $last_cmd"
		diff -u "$scratch/.want" "$err" | head -n 30 >&2
	}
}

expect_err_has()
{
	grep -qF -- "$1" "$err" || fail "stderr lacks \"$1\": $last_cmd"
}

expect_out_has()
{
	grep -qF -- "$1" "$out" || fail "stdout lacks \"$1\": $last_cmd"
}

expect_lines()
{
	n=$(wc -l < "$out")
	[ "$n" -eq "$1" ] || fail "expected $1 lines of output, got $n: $last_cmd"
}

check()
{
	checks=$((checks + 1))
	eval "$1" || fail "$2"
}

finish()
{
	printf '%s: %d checks, %d failed\n' "$test_name" "$checks" "$failures"
	[ "$failures" -eq 0 ]
	exit $?
}

# Prints a field of each record of stdout ($out), one per line (python3).
field()
{
	"$py" -c 'import json,sys
for line in open(sys.argv[1], encoding="utf-8"):
    v = json.loads(line).get(sys.argv[2])
    print(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v)' "$out" "$1"
}
