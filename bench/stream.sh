#!/bin/bash
# bench/stream.sh: streaming benchmark of `pieces mount` against btfs on a
# loopback swarm (opentracker + three libtorrent seeders), inside a network
# namespace that has only `lo`. See bench/README.md, "Streaming benchmark".
# Needs root (network namespace, FUSE). Not part of make check.
#
# Environment (all optional):
#   PIECES          the pieces binary (default: ./pieces, then ../pieces
#                   next to bench/, then pieces on PATH)
#   BENCH_SIZE_MB   file size in MiB (default 1024)
#   BENCH_RUNS      runs of each measurement (default 1; the report shows medians)
#   BENCH_TOOLS     default "pieces btfs"
#   BENCH_TESTS     default "ttfb cp read floor play" (floor: the passfs
#                   rows, run with cp or read)
#   BENCH_PLAY_S    seconds of playback (default 60)
#   BENCH_PLAY_RATE playback rate, bytes/s (default 8000000)
#   BENCH_SEED_LIMIT upload limit of each seeder during playback, bytes/s
#                   (default PLAY_RATE; three seeders: 3x the playback rate)
#   BENCH_FAR_MS    the same playback for pieces once more, each seeder
#                   reached through tests/py/delay_proxy.py holding data this
#                   many ms each way (default 150: a 300 ms round trip; 0: skip)
#   BENCH_CP_LIMIT  upload limit of each seeder for the network-bound cp
#                   (default 40000000, about 1 Gbit/s in all; 0: skip it)
#   BENCH_WARMUP    1 (default): one unreported `pieces download` first; 0: none
#   BENCH_WARM_MB   MiB of memory touched before each timed copy or download
#                   (default 2560; 0: none), see settle()
#   BENCH_TIMEOUT   seconds per step (default 300)
#   BENCH_DIR       where the temporary work folder goes (default /var/tmp)
#   BENCH_RESULTS   report folder (default bench/results next to this script)
#   BENCH_KEEP=1    keep the work folder (payload, logs, raw JSON)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

BENCH_NAME=stream.sh
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
# Outside: run this script again inside its own network namespace; inside: go on.
bench_netns pcstream "network namespace, FUSE" "$0" "$@"
bench_find_pieces

GITV=$(git -C "$HERE/.." describe --always --dirty 2>/dev/null || echo '?')
SIZE_MB=${BENCH_SIZE_MB:-1024}
RUNS=${BENCH_RUNS:-1}
TOOLS=${BENCH_TOOLS:-pieces btfs}
TESTS=${BENCH_TESTS:-ttfb cp read floor play}
PLAY_S=${BENCH_PLAY_S:-60}
PLAY_RATE=${BENCH_PLAY_RATE:-8000000}
SEED_LIMIT=${BENCH_SEED_LIMIT:-$PLAY_RATE}
FAR_MS=${BENCH_FAR_MS:-150}
CP_LIMIT=${BENCH_CP_LIMIT:-40000000}
TIMEOUT=${BENCH_TIMEOUT:-300}
WARM_MB=${BENCH_WARM_MB:-2560}
RESULTS=${BENCH_RESULTS:-$HERE/results}

for t in $TOOLS; do
	case $t in
	pieces) ;;
	btfs) command -v btfs >/dev/null || die "btfs not installed (apt-get install btfs)" ;;
	*) die "unknown tool $t" ;;
	esac
done
command -v opentracker >/dev/null || die "opentracker not installed"
command -v openssl >/dev/null || die "openssl not installed"
command -v fusermount3 >/dev/null || die "fusermount3 not installed"
$PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent not installed"

mkdir -p "${BENCH_DIR:-/var/tmp}"
W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/pieces-stream.XXXXXX")
PIDS=""
MOUNTS=""
track() { PIDS="$PIDS $1"; }

stop_pid() { # PID: TERM, up to 5 s, then KILL; never waits longer
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
unmount() { # MNT: FUSE 3 or 2 (btfs), then lazy as a last resort
	mountpoint -q "$1" 2>/dev/null || return 0
	fusermount3 -u "$1" 2>/dev/null || fusermount -u "$1" 2>/dev/null ||
		umount -l "$1" 2>/dev/null || true
}
cleanup() {
	for m in $MOUNTS; do unmount "$m"; done
	for pid in $PIDS; do stop_pid "$pid"; done
	for m in $MOUNTS; do unmount "$m"; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "work folder kept: $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date +%T)] $*" >&2; }
now() { date +%s.%N; }
# CPU-seconds used so far by the whole machine (user, nice, system, irq, softirq, steal).
cpu_busy() { awk '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / 100 }' /proc/stat; }
wait_for() { # SECONDS COMMAND...: poll until COMMAND succeeds; 1 on timeout
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
listening() { ss -Hltn "sport = :$2" | grep -q "$1:$2"; }
mounted_with() { mountpoint -q "$1" && [ -e "$1/single.bin" ]; }

# --- Payload, tracker -------------------------------------------------------
MiB=1048576
SRC=$W/src
mkdir -p "$SRC"
log "generating payload: ${SIZE_MB} MiB"
openssl enc -aes-128-ctr -nosalt -pass pass:pieces-stream -in /dev/zero 2>/dev/null |
	head -c $((SIZE_MB * MiB)) >"$SRC/single.bin"
BYTES=$(stat -c %s "$SRC/single.bin")
TRACKER_PORT=6969
ANNOUNCE=http://127.0.0.1:$TRACKER_PORT/announce
T=$W/single.torrent
"$PIECES" create -q -l 1M -a "$ANNOUNCE" -o "$T" "$SRC/single.bin"
IH=$($PY -c 'import libtorrent as lt,sys; print(lt.torrent_info(sys.argv[1]).info_hash())' "$T")
mkdir -p "$W/ot"
chmod 755 "$W/ot"
echo "$IH" >"$W/ot/whitelist.txt"
chmod 644 "$W/ot/whitelist.txt"
opentracker -i 127.0.0.1 -p "$TRACKER_PORT" -P "$TRACKER_PORT" -d "$W/ot" \
	-w /whitelist.txt >"$W/opentracker.log" 2>&1 &
track $!
wait_for 10 listening 127.0.0.1 "$TRACKER_PORT" || die "opentracker did not start"

SEEDERS=""
start_seeders() { # LIMIT (bytes/s per seeder, 0 = none)
	local n
	SEEDERS=""
	for n in 2 3 4; do
		$PY "$HERE/lt_seed.py" --ip "127.0.0.$n" --port 6881 --save "$SRC" \
			--upload-limit "$1" "$T" >"$W/seed$n-$1.log" 2>&1 &
		track $!
		SEEDERS="$SEEDERS $!"
	done
	for n in 2 3 4; do
		wait_for 240 grep -q '^ready' "$W/seed$n-$1.log" ||
			die "seeder 127.0.0.$n not ready: $(cat "$W/seed$n-$1.log")"
	done
}
stop_seeders() {
	local pid
	for pid in $SEEDERS; do stop_pid "$pid"; done
	SEEDERS=""
	# Let the tracker forget them: a stopped seeder does not announce "stopped".
	sleep 1
}

# --- Mounts -------------------------------------------------------------------
PORT=20000
MPID=""
MNT=""
# mount_tool TOOL LABEL [CACHE [TORRENT [PIECES-ARGS...]]]: mounts TORRENT
# (default T) on $W/mnt-LABEL, sets MNT and MPID.
mount_tool() {
	local tool=$1 label=$2 cache=${3:-$W/cache-$2} torrent=${4:-$T}
	shift $(($# < 4 ? $# : 4))
	MNT=$W/mnt-$label
	mkdir -p "$MNT" "$cache"
	PORT=$((PORT + 1))
	case $tool in
	pieces)
		"$PIECES" mount -f -q --cache "$cache" -p "$PORT" --bind 127.0.0.1 "$@" \
			"$torrent" "$MNT" >>"$W/log-$label" 2>&1 &
		;;
	btfs)
		btfs -f --data-directory="$cache" --min-port="$PORT" --max-port="$PORT" \
			"$torrent" "$MNT" >>"$W/log-$label" 2>&1 &
		;;
	esac
	MPID=$!
	track "$MPID"
	MOUNTS="$MOUNTS $MNT"
	wait_for 30 mounted_with "$MNT" || {
		log "$tool did not mount: $(tail -n 5 "$W/log-$label")"
		return 1
	}
}
umount_tool() {
	unmount "$MNT"
	local n
	for n in $(seq 100); do
		kill -0 "$MPID" 2>/dev/null || break
		sleep 0.1
	done
	stop_pid "$MPID"
	MPID=""
}

# record TOOL TEST RUN JSON-or-empty [key=value ...]: one JSON line on fd 3.
record() {
	$PY - "$@" >&3 <<-'EOF'
		import json, sys
		tool, test, run, js = sys.argv[1:5]
		r = {"tool": tool, "test": test, "run": int(run)}
		try:
		    r.update(json.loads(js))
		    r["ok"] = True
		except ValueError:
		    r["ok"] = False
		for kv in sys.argv[5:]:
		    k, v = kv.split("=", 1)
		    try:
		        r[k] = float(v)
		    except ValueError:
		        r[k] = v
		print(json.dumps(r))
	EOF
}
reader() { # ARGS...: stream_read.py bounded by TIMEOUT; prints its JSON or nothing
	timeout -k 5 "$TIMEOUT" $PY "$HERE/stream_read.py" "$@" 2>>"$W/reader.log" | tail -n 1 || true
}

# 1. Time to first byte at 60 %, then the next 64 MiB; fresh cache.
test_ttfb() { # TOOL RUN
	local label=ttfb-$1-$2 js
	mount_tool "$1" "$label" || { record "$1" ttfb "$2" ""; return; }
	js=$(reader ttfb "$MNT/single.bin" --at 0.6)
	record "$1" ttfb "$2" "$js"
	log "$1 ttfb run $2: $js"
	umount_tool
	rm -rf "$W/cache-$label"
}

# 3./4. cp -r from the mount (fresh cache) vs pieces download vs btfs cp; then
# for pieces: remount the now complete cache and read it through the mount
# against reading the cache file itself, both from a cold page cache (the
# target: data on disk), and both again warm (informational: the second read
# through the mount comes from the kernel's cache of the mounted file).
drop_caches() { sync && echo 3 >/proc/sys/vm/drop_caches; }
# settle: run right before each timed download or copy. On a VM with free
# page reporting (these have it), memory freed for a second or two goes back
# to the host, and the next step to touch it pays for that: a cp of 1 GiB
# into fresh pages took 0.54 s after a 3 s pause and 0.26-0.36 s when the
# same memory had just been touched. Which steps paid depended on what ran
# before them. Touching WARM_MB of memory and freeing it makes every step
# start from the same state, the one a machine without page reporting is
# always in.
settle() {
	sync
	[ "$WARM_MB" -gt 0 ] || return 0
	$PY - "$WARM_MB" <<-'EOF'
		import mmap, sys
		n = int(sys.argv[1])
		m = mmap.mmap(-1, n << 20)
		block = b"\1" * (1 << 20)
		for _ in range(n):
		    m.write(block)
		m.close()
	EOF
}
peak_rss() { # PID: its peak resident memory so far in MiB, or "none"
	awk '/^VmHWM:/ { printf "%d", $2 / 1024; f = 1 } END { if (!f) print "none" }' \
		"/proc/$1/status" 2>/dev/null || echo none
}
test_cp() { # TOOL RUN [TEST-NAME [CP-ARGS...]]
	local name=${3:-cp}
	local label=$name-$1-$2 t0 t1 c0 c1 ok dst=$W/copy rss cpargs=("${@:4}")
	rm -rf "$dst"
	mkdir -p "$dst"
	settle
	mount_tool "$1" "$label" || { record "$1" "$name" "$2" ""; return; }
	c0=$(cpu_busy)
	t0=$(now)
	ok=ok
	timeout -k 5 "$TIMEOUT" cp "${cpargs[@]}" -r "$MNT/." "$dst/" 2>>"$W/log-$label" || ok=FAILED
	t1=$(now)
	c1=$(cpu_busy)
	rss=$(peak_rss "$MPID")
	cmp -s "$SRC/single.bin" "$dst/single.bin" || ok=FAILED
	record "$1" "$name" "$2" '{}' "s=$(echo "$t1 - $t0" | bc)" "cpu_s=$(echo "$c1 - $c0" | bc)" "status=$ok" "bytes=$BYTES" \
		"rss_mib=$rss"
	log "$1 $name run $2: $ok $(echo "$t1 - $t0" | bc) s"
	rm -rf "$dst"
	umount_tool
	if [ "$1" = pieces ] && [ "$name" = cp ] && [ "$ok" = ok ] && has read; then
		local data
		data=$(find "$W/cache-$label" -name single.bin -type f | head -n 1)
		if drop_caches; then
			record pieces read-disk-cold "$2" "$(reader read "$data")"
		fi
		reader read "$data" >/dev/null
		record pieces read-disk "$2" "$(reader read "$data")"
		mount_tool pieces "$label-re" "$W/cache-$label" || { record pieces read-mount "$2" ""; return; }
		# Wait (bounded) until the resume data says the file is complete.
		wait_for 30 sh -c "[ \$(stat -c %b '$MNT/single.bin') -ge $((BYTES / 512)) ]" || true
		if drop_caches; then
			record pieces read-mount-cold "$2" "$(reader read "$MNT/single.bin")"
		else
			record pieces read-mount-first "$2" "$(reader read "$MNT/single.bin")"
		fi
		record pieces read-mount "$2" "$(reader read "$MNT/single.bin")"
		log "pieces read run $2: disk vs mount done"
		umount_tool
	fi
	rm -rf "$W/cache-$label"
}

test_download() { # RUN [TEST-NAME]: pieces download of the same torrent
	local name=${2:-download}
	local label=$name-$1 dir=$W/dl t0 t1 c0 c1 ok=ok
	rm -rf "$dir"
	mkdir -p "$dir"
	settle
	PORT=$((PORT + 1))
	c0=$(cpu_busy)
	t0=$(now)
	timeout -k 5 "$TIMEOUT" "$PIECES" download "$T" -o "$dir" -p "$PORT" \
		--bind 127.0.0.1 -q >"$W/log-$label" 2>&1 || ok=FAILED
	t1=$(now)
	c1=$(cpu_busy)
	cmp -s "$SRC/single.bin" "$dir/single.bin" || ok=FAILED
	[ "$1" = 0 ] || record pieces "$name" "$1" '{}' "s=$(echo "$t1 - $t0" | bc)" "cpu_s=$(echo "$c1 - $c0" | bc)" "status=$ok" "bytes=$BYTES"
	log "pieces $name run $1: $ok $(echo "$t1 - $t0" | bc) s"
	rm -rf "$dir"
	sync
}

# cp's own cost, for scale: the same cp -r of the seeders' copy of the file
# (in the page cache) into the same destination folder. cp from a mount can
# be no faster than this. With NAME and FROM, the copy is made from FROM
# instead: the passfs mount (below) of the same file.
test_cp_local() { # RUN [NAME FROM]
	local name=${2:-cp-local} from=${3:-$SRC} t0 t1 c0 c1 ok=ok dst=$W/copy
	rm -rf "$dst"
	mkdir -p "$dst"
	cat "$SRC/single.bin" >/dev/null
	settle
	c0=$(cpu_busy)
	t0=$(now)
	cp -r "$from/." "$dst/" || ok=FAILED
	t1=$(now)
	c1=$(cpu_busy)
	cmp -s "$SRC/single.bin" "$dst/single.bin" || ok=FAILED
	record pieces "$name" "$1" '{}' "s=$(echo "$t1 - $t0" | bc)" "cpu_s=$(echo "$c1 - $c0" | bc)" \
		"status=$ok" "bytes=$BYTES"
	rm -rf "$dst"
	sync
}

# For scale: the same download while a plain cp -r of a same-size local
# file (no FUSE) runs beside it, timed until both are done. A cp from the
# mount does that work and more (the bytes also go through the kernel to
# cp, 128 KiB per request): if this one keeps up with the download alone,
# the machine has room for cp's own work, and what a cp from the mount
# loses beyond it is the mount's. Every step records the CPU-seconds the
# whole machine used, to tell a busy machine from a waiting one. With NAME
# and FROM, the cp reads FROM instead (the passfs mount).
test_download_cp() { # RUN [NAME FROM]
	local name=${2:-download-cp} from=${3:-$SRC}
	local label=$name-$1 dir=$W/dl dst=$W/copy t0 t1 c0 c1 ok=ok cpid
	rm -rf "$dir" "$dst"
	mkdir -p "$dir" "$dst"
	cat "$SRC/single.bin" >/dev/null
	settle
	PORT=$((PORT + 1))
	c0=$(cpu_busy)
	t0=$(now)
	cp -r "$from/." "$dst/" &
	cpid=$!
	track "$cpid"
	timeout -k 5 "$TIMEOUT" "$PIECES" download "$T" -o "$dir" -p "$PORT" \
		--bind 127.0.0.1 -q >"$W/log-$label" 2>&1 || ok=FAILED
	wait "$cpid" || ok=FAILED
	t1=$(now)
	c1=$(cpu_busy)
	cmp -s "$SRC/single.bin" "$dir/single.bin" || ok=FAILED
	cmp -s "$SRC/single.bin" "$dst/single.bin" || ok=FAILED
	record pieces "$name" "$1" '{}' "s=$(echo "$t1 - $t0" | bc)" "cpu_s=$(echo "$c1 - $c0" | bc)" "status=$ok" "bytes=$BYTES"
	log "pieces $name run $1: $ok $(echo "$t1 - $t0" | bc) s"
	rm -rf "$dir" "$dst"
	sync
}

# The FUSE floor, for scale: bench/passfs.c serves the seeders' copy of the
# file through FUSE the way pieces serves a file it is still downloading
# (direct I/O, st_blocks below the size, so cp reads 128 KiB at a time) and
# does nothing else. A cp through it costs what any FUSE filesystem's must
# under those rules; beside a download it shows how near to the download
# alone a cp from a mount can come on this machine.
PASSFS_MNT=""
start_passfs() {
	local bin=$W/passfs
	cc -O2 $(pkg-config --cflags fuse3) "$HERE/passfs.c" -o "$bin" \
		$(pkg-config --libs fuse3) || die "cannot build bench/passfs.c"
	PASSFS_MNT=$W/mnt-passfs
	mkdir -p "$PASSFS_MNT"
	"$bin" "$SRC/single.bin" "$PASSFS_MNT" >"$W/log-passfs" 2>&1 &
	track $!
	MOUNTS="$MOUNTS $PASSFS_MNT"
	wait_for 10 mounted_with "$PASSFS_MNT" || die "passfs did not mount: $(cat "$W/log-passfs")"
}

# 2. Playback at PLAY_RATE from the start of the file, seeders rate-limited.
test_play() { # TOOL RUN [TEST-NAME [TORRENT [MOUNT-ARGS...]]]
	local tool=$1 run=$2 name=${3:-play} js
	local label=$name-$1-$2
	shift $(($# < 3 ? $# : 3))
	mount_tool "$tool" "$label" "$W/cache-$label" "$@" || { record "$tool" "$name" "$run" ""; return; }
	js=$(reader play "$MNT/single.bin" --rate "$PLAY_RATE" --seconds "$PLAY_S")
	record "$tool" "$name" "$run" "$js"
	log "$tool $name run $run: $(echo "$js" | cut -c1-200)"
	umount_tool
	rm -rf "$W/cache-$label"
}

# 2b. The same playback over a long link (pieces only: btfs takes peers from
# trackers alone). A proxy per seeder holds data FAR_MS each way; the mount
# gets a copy of the torrent without its tracker (same info dictionary, so
# the same info-hash) and the proxies' addresses, so every byte crosses one.
start_far() {
	local n port
	FAR_PEERS=()
	$PY "$HERE/../tests/py/no_trackers.py" "$T" "$W/far.torrent"
	for n in 2 3 4; do
		port=$((30000 + n))
		$PY "$HERE/../tests/py/delay_proxy.py" "$port" "127.0.0.$n:6881" "$FAR_MS" \
			>"$W/proxy$n.log" 2>&1 &
		track $!
		wait_for 10 grep -q '^ready' "$W/proxy$n.log" || die "delay proxy $n did not start"
		FAR_PEERS+=(--peer "127.0.0.1:$port")
	done
}

has() { [[ " $TESTS " = *" $1 "* ]]; }

exec 3>"$W/results.jsonl"
log "starting seeders (unlimited)"
start_seeders 0
if [ "${BENCH_WARMUP:-1}" = 1 ]; then
	log "warm-up: pieces download (unreported)"
	test_download 0
fi
for run in $(seq "$RUNS"); do
	if has ttfb; then
		for tool in $TOOLS; do test_ttfb "$tool" "$run"; done
	fi
	if has cp || has read; then
		if [[ " $TOOLS " = *" pieces "* ]]; then
			test_download "$run"
			test_cp_local "$run"
			test_download_cp "$run"
			if has floor; then
				[ -n "$PASSFS_MNT" ] || start_passfs
				test_cp_local "$run" cp-passfs "$PASSFS_MNT"
				test_download_cp "$run" download-passfs "$PASSFS_MNT"
			fi
		fi
		for tool in $TOOLS; do test_cp "$tool" "$run"; done
		# For scale: a file whose st_blocks is below its size (ours while
		# incomplete: it counts verified bytes) looks sparse to cp, which
		# then reads it 128 KiB at a time instead of st_blksize (512 KiB).
		# --sparse=never turns that detection off: a quarter of the round
		# trips through the mount.
		if has cp && [[ " $TOOLS " = *" pieces "* ]]; then
			test_cp pieces "$run" cp-dense --sparse=never
		fi
	fi
done
# 3b. The same cp against download when the network, not the CPU, is the
# limit: seeders capped at CP_LIMIT each (pieces only; btfs's cp is shown above).
if has cp && [ "$CP_LIMIT" != 0 ] && [[ " $TOOLS " = *" pieces "* ]]; then
	stop_seeders
	log "restarting seeders, upload limited to $CP_LIMIT B/s each"
	start_seeders "$CP_LIMIT"
	for run in $(seq "$RUNS"); do
		test_download "$run" download-capped
		test_cp pieces "$run" cp-capped
	done
fi
if has play; then
	stop_seeders
	log "restarting seeders, upload limited to $SEED_LIMIT B/s each"
	start_seeders "$SEED_LIMIT"
	for run in $(seq "$RUNS"); do
		for tool in $TOOLS; do test_play "$tool" "$run"; done
	done
	if [ "$FAR_MS" != 0 ] && [[ " $TOOLS " = *" pieces "* ]]; then
		start_far
		for run in $(seq "$RUNS"); do
			test_play pieces "$run" play-far "$W/far.torrent" "${FAR_PEERS[@]}"
		done
	fi
fi
exec 3>&-

# --- Report ---------------------------------------------------------------------
DATE=$(date +%Y-%m-%d)
mkdir -p "$RESULTS"
if [ "$SIZE_MB" = 1024 ]; then
	REPORT=$RESULTS/stream-$DATE.md
else
	REPORT=$RESULTS/stream-$DATE-${SIZE_MB}M.md
fi
BTFSV=$(btfs --version 2>&1 | head -n 1 || echo '?')
$PY "$HERE/stream_report.py" "$W/results.jsonl" \
	--date "$(date '+%Y-%m-%d %H:%M %Z')" --pieces "$GITV" --btfs "$BTFSV" \
	--bytes "$BYTES" --runs "$RUNS" --play-rate "$PLAY_RATE" --play-s "$PLAY_S" \
	--seed-limit "$SEED_LIMIT" --cp-limit "$CP_LIMIT" --far-ms "$FAR_MS" >"$W/report.md"
cp "$W/report.md" "$REPORT"
cat "$W/report.md"
log "report written to $REPORT"
