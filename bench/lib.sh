# bench/lib.sh: what the benchmark scripts share; sourced, not run.
# shellcheck shell=bash
# The script sets BENCH_NAME first (its name in error messages).

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

# bench_netns PREFIX WHY SCRIPT ARGS...: outside a namespace, runs SCRIPT
# again inside a new network namespace (named PREFIX and our PID) that has
# only lo, removes the namespace when it ends and exits with its status;
# WHY says what needs root. Inside, it only checks that lo is all there is,
# and returns. Stopping the inner run: TERM, up to 15 s, then KILL.
bench_netns() {
	local prefix=$1 why=$2 script=$3 rc
	shift 3
	if [ -n "${PCBENCH_NETNS:-}" ]; then
		[ "$(ip -o link show | wc -l)" = 1 ] || die "not in a namespace with only lo"
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "needs root ($why)"
	command -v ip >/dev/null || die "needs ip (iproute2)"
	BENCH_NS=$prefix$$
	BENCH_INNER=
	trap bench_netns_cleanup EXIT
	trap 'exit 130' INT TERM
	ip netns add "$BENCH_NS" || die "cannot create network namespace $BENCH_NS"
	ip netns exec "$BENCH_NS" ip link set lo up
	PCBENCH_NETNS=$BENCH_NS ip netns exec "$BENCH_NS" "$BASH" "$script" "$@" &
	BENCH_INNER=$!
	rc=0
	wait "$BENCH_INNER" || rc=$?
	BENCH_INNER=
	exit "$rc"
}

bench_netns_cleanup() {
	if [ -n "$BENCH_INNER" ] && kill -0 "$BENCH_INNER" 2>/dev/null; then
		kill -TERM "$BENCH_INNER" 2>/dev/null || true
		for _ in $(seq 150); do
			kill -0 "$BENCH_INNER" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$BENCH_INNER" 2>/dev/null || true
	fi
	ip netns del "$BENCH_NS" 2>/dev/null || true
}

# Sets PIECES to an executable pieces binary (PIECES, ./pieces, ../pieces
# next to bench/, then PATH) or dies. HERE is the bench folder.
bench_find_pieces() {
	local p
	if [ -z "${PIECES:-}" ]; then
		for p in ./pieces "$HERE/../pieces"; do
			if [ -x "$p" ]; then
				PIECES=$(cd "$(dirname "$p")" && pwd)/pieces
				break
			fi
		done
		: "${PIECES:=$(command -v pieces || true)}"
	fi
	{ [ -n "${PIECES:-}" ] && [ -x "$PIECES" ]; } || die "pieces binary not found: set PIECES"
}
