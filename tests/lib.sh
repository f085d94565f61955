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

# t_started PID: when the process started (clock ticks since boot), or
# nothing once it is gone. With kernel.pid_max at 32768, PIDs come round
# again within minutes while the tests run in parallel: a PID is ours only
# while its start time is the one t_track recorded. (Before this, a test
# ending killed whatever had been given the PIDs of its long-gone
# processes: once, the mount daemon of tests/mount.sh running beside it.)
t_started() {
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}

# t_owned PID: PID is still the process t_track recorded under it.
t_owned() {
	for _to in $T_PIDS; do
		[ "${_to%%:*}" = "$1" ] || continue
		[ -n "${_to#*:}" ] && [ "$(t_started "$1")" = "${_to#*:}" ] && return 0
	done
	return 1
}

# The test's own shell: subshells inherit the traps below, and one that got
# a signal must not clean up (kill, unmount, remove T_DIR) under the test
# still running. $$ is the same in subshells; the PID that the shell running
# the builtin `read` finds in /proc/self is not.
t_self() { read -r T_SELF _ </proc/self/stat; }
t_self
T_SHELL=$T_SELF
# t_main: this is the test's own shell, not a subshell of it.
t_main() {
	t_self
	[ "$T_SELF" = "$T_SHELL" ]
}

t_cleanup() {
	t_main || return 0
	for _tc in $T_PIDS; do
		t_owned "${_tc%%:*}" && kill "${_tc%%:*}" 2>/dev/null || true
	done
	for _tc in $T_PIDS; do
		wait "${_tc%%:*}" 2>/dev/null || true
	done
	rm -rf "$T_DIR"
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# Remember a background process for cleanup: cmd & t_track $!
t_track() { T_PIDS="$T_PIDS $1:$(t_started "$1")"; }

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
