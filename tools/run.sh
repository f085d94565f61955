#!/bin/sh
# tools/run.sh demo|check|bench — set up a fresh Debian 12 machine (as root) and
# either run the demo on the bundled sample torrent or run the whole test
# suite. Installs missing packages with apt-get, builds out of tree, and is
# safe to run again.
#
#   demo   build, then run tools/demo.sh on the bundled samples: describe
#          them, recreate them with `pieces create` (same info-hash), start
#          opentracker on 127.0.0.1:6969 (their announce URL) and a local
#          `pieces seed`, download from it, mount the torrent and stream a
#          file through the mount.
#   check  build with -Werror and run `make check`; build again with ASan +
#          UBSan and run `make check`; build the libFuzzer targets with clang
#          and run each on its seed corpus for FUZZ_SECONDS (default 20).
#   bench  build (optimised, no sanitizers) and run `make bench`: the
#          download, seeding and streaming benchmarks (bench/README.md); also
#          installs btfs and bc, which only the streaming benchmark needs.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
what=${1:-}
jobs=$(nproc 2>/dev/null || echo 2)

PACKAGES="build-essential autoconf automake pkg-config libssl-dev libcurl4-openssl-dev
libfuse3-dev fuse3 libcriterion-dev clang libclang-rt-14-dev python3 python3-libtorrent
mktorrent transmission-cli aria2 opentracker attr iproute2 procps psmisc openssl"

log() { printf '==> %s\n' "$*"; }

install_deps() {
	missing=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	log "installing:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		echo "tools/run.sh: need root to apt-get install:$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

build() { # build DIR CONFIGURE-ARGS...
	dir=$1
	shift
	log "building in $dir ($*)"
	mkdir -p "$top/$dir"
	(cd "$top/$dir" &&
		{ [ -f Makefile ] || "$top/configure" "$@" >configure.out 2>&1 ||
			{ cat configure.out; exit 1; }; } &&
		make -j"$jobs" >make.out 2>&1 || { tail -50 make.out; exit 1; })
}

bootstrap() {
	install_deps
	[ -x "$top/configure" ] || { log "autoreconf"; autoreconf -fi >/dev/null 2>&1; }
}

totals=""
run_check() { # run_check DIR
	dir=$1
	log "make check in $dir"
	status=0
	(cd "$top/$dir" && make -j"$jobs" check >check.out 2>&1) || status=$?
	grep -E '^(PASS|FAIL|XPASS|ERROR|SKIP):' "$top/$dir/check.out" || true
	if [ "$status" -ne 0 ]; then
		for f in "$top/$dir"/tests/*.log "$top/$dir"/tests/fuzz/*.log; do
			[ -f "$f" ] || continue
			case "$f" in *test-suite.log) continue ;; esac
			grep -q ':test-result: \(FAIL\|ERROR\)' "${f%.log}.trs" 2>/dev/null || continue
			echo "---- $f"
			tail -40 "$f"
		done
	fi
	log_=$top/$dir/test-suite.log
	totals="$totals $(sed -n 's/^# PASS: *//p' "$log_" | head -1):$(sed -n 's/^# FAIL: *//p;s/^# ERROR: *//p' "$log_" | awk '{s+=$1} END {print s+0}')"
	return "$status"
}

case "$what" in
demo)
	bootstrap
	build _build
	sh "$top/tools/demo.sh" "$top/_build/pieces"
	;;
check)
	bootstrap
	rc=0
	build _build --enable-werror
	run_check _build || rc=1
	build _build-asan --enable-werror --enable-asan --enable-ubsan
	ASAN_OPTIONS=detect_leaks=1 run_check _build-asan || rc=1
	build _build-fuzz CC=clang --enable-fuzzing
	fz_pass=0 fz_fail=0
	for fz in "$top"/_build-fuzz/tests/fuzz/fuzz_*; do
		[ -x "$fz" ] || continue
		name=${fz##*/fuzz_}
		corpus=$(mktemp -d)
		cp "$top/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
		if "$fz" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			"$corpus" >"$top/_build-fuzz/fuzz_$name.out" 2>&1; then
			echo "PASS: fuzz_$name ($(grep -o 'stat::number_of_executed_units: [0-9]*' \
				"$top/_build-fuzz/fuzz_$name.out" | awk '{print $2}') runs)"
			fz_pass=$((fz_pass + 1))
		else
			echo "FAIL: fuzz_$name"
			tail -30 "$top/_build-fuzz/fuzz_$name.out"
			fz_fail=$((fz_fail + 1))
			rc=1
		fi
		rm -rf "$corpus"
	done
	totals="$totals $fz_pass:$fz_fail"
	echo "$totals" | tr ' ' '\n' | awk -F: 'NF==2 {p+=$1; f+=$2} END {printf "%d passed, %d failed\n", p, f}'
	exit "$rc"
	;;
bench)
	PACKAGES="$PACKAGES btfs bc"
	bootstrap
	build _build-bench
	cd "$top/_build-bench" && exec make bench
	;;
*)
	echo "usage: tools/run.sh demo|check|bench" >&2
	exit 2
	;;
esac
