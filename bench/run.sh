#!/bin/bash
# bench/run.sh: every benchmark, one after the other: the download benchmark
# (download.sh), then the seeding benchmark (seed.sh). Both read the same
# environment (PIECES, BENCH_SIZE_MB, BENCH_RUNS, BENCH_DIR, BENCH_RESULTS,
# BENCH_KEEP, ...; see bench/README.md) and each writes its own report to
# bench/results/. Needs root. The exit status is 0 only if both succeeded;
# the second runs even when the first failed.
HERE=$(cd "$(dirname "$0")" && pwd)
rc=0
"$BASH" "$HERE/download.sh" "$@" || rc=$?
"$BASH" "$HERE/seed.sh" "$@" || { r=$?; [ "$rc" = 0 ] && rc=$r; }
"$BASH" "$HERE/stream.sh" "$@" || { r=$?; [ "$rc" = 0 ] && rc=$r; }
exit "$rc"
