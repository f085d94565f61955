# tests/lib.sh: shared helpers for the shell integration tests. Sourced.
# Every test runs in its own temporary directory, bounds its time with
# `timeout`, and kills what it started (by PID) on exit.
set -eu

: "${PIECES:?PIECES must point at the pieces binary}"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
PY=/usr/bin/python3

T_PASS=0
T_FAIL=0
T_PIDS=""
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pieces-test.XXXXXX")

t_cleanup() {
	for pid in $T_PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $T_PIDS; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$T_DIR"
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# Remember a background process for cleanup: cmd & t_track $!
t_track() { T_PIDS="$T_PIDS $1"; }

ok() {
	T_PASS=$((T_PASS + 1))
	echo "ok - $*"
}
not_ok() {
	T_FAIL=$((T_FAIL + 1))
	echo "not ok - $*"
}
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
t_done() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}
# json_field FILE KEY: a top-level scalar from pieces' --json output.
json_field() {
	$PY -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if not isinstance(v,bool) else str(v).lower())' "$1" "$2"
}
