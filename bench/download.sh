#!/bin/bash
# bench/download.sh: download benchmark of pieces against aria2c,
# transmission-cli and python3-libtorrent on a loopback swarm (opentracker +
# three libtorrent seeders), inside a network namespace that has only `lo`.
# See bench/README.md. Needs root (network namespace). Not part of make check.
#
# Environment (all optional):
#   PIECES          the pieces binary (default: ./pieces, then ../pieces
#                   next to bench/, then pieces on PATH)
#   BENCH_SIZE_MB   single-file torrent size in MiB (default 1024)
#   BENCH_MULTI_MB  multi-file torrent size in MiB (default SIZE*300/1024)
#   BENCH_RUNS      timed runs per client and torrent (default 1)
#   BENCH_CLIENTS   default "pieces aria2c transmission libtorrent"
#   BENCH_TORRENTS  default "single multi"
#   BENCH_WARMUP    clients for the unreported warm-up (default libtorrent;
#                   "none" for none)
#   BENCH_TIMEOUT   seconds per download (default 300)
#   BENCH_DIR       where the temporary work folder goes (default /var/tmp)
#   BENCH_RESULTS   report folder (default bench/results next to this script)
#   BENCH_KEEP=1    keep the work folder (payload, logs)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

BENCH_NAME=download.sh
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
# Outside: run this script again inside its own network namespace; inside: go on.
bench_netns pcbench "it creates a network namespace" "$0" "$@"
bench_find_pieces

# The source tree's state when the run starts (the binary is whatever PIECES is).
GITV=$(git -C "$HERE/.." describe --always --dirty 2>/dev/null || echo '?')
SIZE_MB=${BENCH_SIZE_MB:-1024}
MULTI_MB=${BENCH_MULTI_MB:-$((SIZE_MB * 300 / 1024))}
[ "$MULTI_MB" -ge 8 ] || MULTI_MB=8
RUNS=${BENCH_RUNS:-1}
CLIENTS=${BENCH_CLIENTS:-pieces aria2c transmission libtorrent}
TORRENTS=${BENCH_TORRENTS:-single multi}
WARMUP=${BENCH_WARMUP:-libtorrent}
[ "$WARMUP" = none ] && WARMUP=
TIMEOUT=${BENCH_TIMEOUT:-300}
RESULTS=${BENCH_RESULTS:-$HERE/results}

for c in $CLIENTS $WARMUP; do
	case $c in
	pieces) ;;
	aria2c) command -v aria2c >/dev/null || die "aria2c not installed" ;;
	transmission) command -v transmission-cli >/dev/null || die "transmission-cli not installed" ;;
	libtorrent) ;;
	*) die "unknown client $c" ;;
	esac
done
command -v opentracker >/dev/null || die "opentracker not installed"
command -v openssl >/dev/null || die "openssl not installed"
$PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent not installed"

mkdir -p "${BENCH_DIR:-/var/tmp}"
W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/pieces-bench.XXXXXX")
PIDS=""
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
cleanup() {
	for pid in $PIDS; do stop_pid "$pid"; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "work folder kept: $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date +%T)] $*" >&2; }

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds; 1 on timeout.
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
listening() { # ADDR PORT
	ss -Hltn "sport = :$2" | grep -q "$1:$2"
}

# --- Payloads ------------------------------------------------------------
# Random bytes, fast: AES-CTR keystream of zeros.
gen() { # NAME BYTES FILE
	openssl enc -aes-128-ctr -nosalt -pass "pass:pieces-bench-$1" -in /dev/zero 2>/dev/null |
		head -c "$2" >"$3"
}
MiB=1048576
SRC=$W/src
mkdir -p "$SRC/multi/docs/deep" "$SRC/multi/media" "$SRC/multi/misc"
log "generating payloads: single ${SIZE_MB} MiB, multi ~${MULTI_MB} MiB"
gen single $((SIZE_MB * MiB)) "$SRC/single.bin"
# A dozen files of assorted sizes (per mille of MULTI_MB), most not
# piece-aligned, three of them tiny.
M=$((MULTI_MB * MiB))
i=0
for spec in media/video1.mkv:300 media/video2.mkv:200 media/track01.flac:120 \
	media/track02.flac:97 docs/manual.pdf:80 docs/deep/archive.tar:70 \
	misc/disk.img:60 misc/data.csv:40 docs/notes.txt:20 misc/small.bin:12 \
	docs/deep/tiny.txt:0 README:0; do
	f=${spec%%:*}
	pm=${spec##*:}
	if [ "$pm" = 0 ]; then
		n=$((1000 + i * 3331))
	else
		n=$((M * pm / 1000 - i * 7777))
	fi
	gen "m$i" "$n" "$SRC/multi/$f"
	i=$((i + 1))
done
SINGLE_BYTES=$(stat -c %s "$SRC/single.bin")
MULTI_BYTES=$(find "$SRC/multi" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
MULTI_FILES=$(find "$SRC/multi" -type f | wc -l)

TRACKER_PORT=6969
ANNOUNCE=http://127.0.0.1:$TRACKER_PORT/announce
log "making torrents"
"$PIECES" create -q -l 1M -a "$ANNOUNCE" -o "$W/single.torrent" "$SRC/single.bin"
"$PIECES" create -q -l 512K -a "$ANNOUNCE" -o "$W/multi.torrent" "$SRC/multi"
infohash() { $PY -c 'import libtorrent as lt,sys; print(lt.torrent_info(sys.argv[1]).info_hash())' "$1"; }
IH_single=$(infohash "$W/single.torrent")
IH_multi=$(infohash "$W/multi.torrent")

# --- Tracker and seeders -----------------------------------------------------
# opentracker chroots into -d and drops to nobody before reading the
# whitelist, hence the world-readable folder and the absolute path inside it.
mkdir -p "$W/ot"
chmod 755 "$W/ot"
printf '%s\n%s\n' "$IH_single" "$IH_multi" >"$W/ot/whitelist.txt"
chmod 644 "$W/ot/whitelist.txt"
opentracker -i 127.0.0.1 -p "$TRACKER_PORT" -P "$TRACKER_PORT" -d "$W/ot" \
	-w /whitelist.txt >"$W/opentracker.log" 2>&1 &
track $!
wait_for 10 listening 127.0.0.1 "$TRACKER_PORT" || die "opentracker did not start: $(cat "$W/opentracker.log")"

CONNECT=$W/connect.txt
SEEDERS=""
log "starting seeders (they check the data first)"
for n in 2 3 4; do
	$PY "$HERE/lt_seed.py" --ip "127.0.0.$n" --port 6881 --save "$SRC" \
		--connect-file "$CONNECT" "$W/single.torrent" "$W/multi.torrent" \
		>"$W/seed$n.log" 2>&1 &
	track $!
	SEEDERS="$SEEDERS${SEEDERS:+,}$!"
done
for n in 2 3 4; do
	wait_for 240 grep -q '^ready' "$W/seed$n.log" ||
		die "seeder 127.0.0.$n not ready: $(cat "$W/seed$n.log")"
done
log "swarm ready"

# --- Clients -------------------------------------------------------------
# Leecher ports below Linux's ephemeral range (32768-60999), so that no
# outgoing connection of an earlier run can hold the port.
PORT=20000
# verify TORRENT DIR: the download equals the source, file by file.
verify() {
	local f rel
	if [ "$1" = single ]; then
		cmp -s "$SRC/single.bin" "$2/single.bin"
		return
	fi
	while IFS= read -r f; do
		rel=${f#"$SRC/"}
		cmp -s "$f" "$2/$rel" || return 1
	done < <(find "$SRC/multi" -type f)
}

# run_client CLIENT TORRENT RUN: one download; prints a JSON record on fd 3.
run_client() {
	local c=$1 t=$2 run=$3 label=$1-$2-$3 dir tor ih bytes ok status extra
	dir=$W/dl/$label
	rm -rf "$dir"
	mkdir -p "$dir"
	tor=$W/$t.torrent
	eval "ih=\$IH_$t"
	case $t in single) bytes=$SINGLE_BYTES ;; *) bytes=$MULTI_BYTES ;; esac
	PORT=$((PORT + 1))
	extra=()
	local cmd=()
	case $c in
	pieces)
		cmd=("$PIECES" download "$tor" -o "$dir" -p "$PORT" --bind 127.0.0.1 -q)
		;;
	aria2c)
		cmd=(aria2c --no-conf=true --dir="$dir" --listen-port="$PORT"
			--enable-dht=false --enable-dht6=false --bt-enable-lpd=false
			--enable-peer-exchange=false --seed-time=0 --file-allocation=none
			--bt-max-peers=50 --disable-ipv6=true --max-overall-download-limit=0
			--bt-save-metadata=false --bt-hash-check-seed=false
			--summary-interval=0 --console-log-level=warn --enable-color=false
			--allow-overwrite=true --auto-file-renaming=false -T "$tor")
		;;
	transmission)
		local cfg=$W/tr-$label
		mkdir -p "$cfg"
		printf '#!/bin/sh\n: >"%s"\n' "$W/done-$label" >"$cfg/done.sh"
		chmod 755 "$cfg/done.sh"
		cat >"$cfg/settings.json" <<-EOF
			{
			  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
			  "utp-enabled": false, "port-forwarding-enabled": false,
			  "bind-address-ipv4": "127.0.0.1", "peer-port": $PORT,
			  "peer-port-random-on-start": false, "encryption": 0,
			  "speed-limit-down-enabled": false, "speed-limit-up-enabled": false,
			  "alt-speed-enabled": false, "blocklist-enabled": false,
			  "peer-limit-global": 200, "peer-limit-per-torrent": 50,
			  "rename-partial-files": false, "incomplete-dir-enabled": false,
			  "start-added-torrents": true, "ratio-limit-enabled": false,
			  "download-queue-enabled": false, "seed-queue-enabled": false,
			  "download-dir": "$dir", "message-level": 1,
			  "script-torrent-done-enabled": true,
			  "script-torrent-done-filename": "$cfg/done.sh"
			}
		EOF
		cmd=(transmission-cli -g "$cfg" -w "$dir" -p "$PORT" -et -D -U -M
			-f "$cfg/done.sh" "$tor")
		extra=(--done-file "$W/done-$label" --stop-signal INT)
		;;
	libtorrent)
		cmd=("$PY" "$HERE/lt_leech.py" --ip 127.0.0.1 --port "$PORT" "$tor" "$dir")
		;;
	esac
	sync
	$PY "$HERE/runone.py" --json "$W/r-$label.json" --timeout "$TIMEOUT" \
		--watch-pids "$SEEDERS" "${extra[@]}" -- "${cmd[@]}" \
		>"$W/log-$label" 2>&1 &
	local rpid=$!
	track "$rpid"
	if [ "$c" = transmission ]; then
		# Transmission drops loopback peers from the tracker: the seeders dial it.
		if wait_for 30 listening 127.0.0.1 "$PORT"; then
			echo "$ih 127.0.0.1 $PORT" >"$CONNECT.tmp"
			mv "$CONNECT.tmp" "$CONNECT"
		else
			log "transmission-cli is not listening on $PORT: stopping it"
			kill -TERM "$rpid" 2>/dev/null || true
		fi
	fi
	wait "$rpid" || true
	rm -f "$CONNECT"
	status=ERROR
	if [ -s "$W/r-$label.json" ]; then
		status=$($PY - "$W/r-$label.json" "$c" <<-'EOF'
			import json, sys
			r = json.load(open(sys.argv[1]))
			if r["timed_out"]:
			    print("TIMEOUT")
			elif sys.argv[2] == "transmission":
			    print("ok" if r["done_file_seen"] else "EXIT%s" % r["exit"])
			else:
			    print("ok" if r["exit"] == 0 else "EXIT%s" % r["exit"])
		EOF
		)
	fi
	ok=false
	if verify "$t" "$dir"; then
		ok=true
	elif [ "$status" = ok ]; then
		status=FAILED
	fi
	$PY - "$W/r-$label.json" "$c" "$t" "$run" "$bytes" "$status" "$ok" >&3 <<-'EOF'
		import json, sys
		try:
		    r = json.load(open(sys.argv[1]))
		except (OSError, ValueError):
		    r = {"wall": 0, "user": 0, "sys": 0, "maxrss_kb": 0, "anon_peak_kb": 0,
		         "exit": None, "watched_cpu": 0}
		r.pop("cmd", None)
		r.update(client=sys.argv[2], torrent=sys.argv[3], run=int(sys.argv[4]),
		         bytes=int(sys.argv[5]), status=sys.argv[6],
		         verified=sys.argv[7] == "true")
		print(json.dumps(r))
	EOF
	log "$(printf '%-12s %-6s run %s: %s, wall %s s' "$c" "$t" "$run" "$status" \
		"$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["wall"])' "$W/r-$label.json" 2>/dev/null || echo '?')")"
	if [ "$status" != ok ]; then
		log "last lines of its output ($W/log-$label):"
		tr '\r' '\n' <"$W/log-$label" | grep -v '^Progress' | tail -n 5 >&2 || true
	fi
	if [ "$ok" != true ] && [ "${BENCH_KEEP:-0}" = 1 ]; then
		mv "$dir" "$W/failed-$label"
	fi
	rm -rf "$dir" "$W/tr-$label"
	sync
	sleep 1
}

exec 3>"$W/warmup.jsonl"
for c in $WARMUP; do
	for t in $TORRENTS; do
		log "warm-up: $c $t"
		run_client "$c" "$t" 0
	done
done
exec 3>"$W/results.jsonl"
for run in $(seq "$RUNS"); do
	for c in $CLIENTS; do
		for t in $TORRENTS; do
			run_client "$c" "$t" "$run"
		done
	done
done
exec 3>&-

# --- Report --------------------------------------------------------------
versions=()
for c in $CLIENTS; do
	case $c in
	pieces) versions+=("pieces $("$PIECES" --version 2>&1 | head -n1 | awk '{print $NF}')") ;;
	aria2c) versions+=("$(aria2c --version | head -n1)") ;;
	transmission) versions+=("$(transmission-cli --version 2>&1 | head -n1)") ;;
	libtorrent) versions+=("python3-libtorrent $($PY -c 'import libtorrent; print(libtorrent.__version__)') (lt_leech.py, default settings)") ;;
	esac
done
DATE=$(date +%Y-%m-%d)
$PY - "$W/meta.json" "$CLIENTS" "$RUNS" "$WARMUP" "$SINGLE_BYTES" "$MULTI_BYTES" \
	"$MULTI_FILES" "$TORRENTS" "${versions[@]}" <<-EOF
	import json, platform, subprocess, sys
	a = sys.argv
	cpu = "?"
	for line in open("/proc/cpuinfo"):
	    if line.startswith("model name"):
	        cpu = line.split(":", 1)[1].strip()
	        break
	try:
	    import os
	    cpu = "%s x%d" % (cpu, os.cpu_count())
	except Exception:
	    pass
	gv = "$GITV"
	import libtorrent
	tors = {"single": dict(key="single", desc="one file", bytes=int(a[5]), files=1, piece_kib=1024),
	        "multi": dict(key="multi", desc="multi-file", bytes=int(a[6]), files=int(a[7]), piece_kib=512)}
	meta = dict(date="$(date '+%Y-%m-%d %H:%M %Z')", clients=a[2].split(), runs=int(a[3]),
	            warmup=(a[4] + " on each torrent") if a[4] else "none",
	            torrents=[tors[t] for t in a[8].split()], versions=a[9:],
	            pieces_version=gv or "?", pieces_bin="$PIECES", kernel="Linux " + platform.release(), cpu=cpu,
	            libtorrent=libtorrent.__version__)
	json.dump(meta, open(a[1], "w"))
EOF
mkdir -p "$RESULTS"
# Quick runs (other sizes) do not overwrite the full run's report.
if [ "$SIZE_MB" = 1024 ]; then
	REPORT=$RESULTS/download-$DATE.md
else
	REPORT=$RESULTS/download-$DATE-${SIZE_MB}M.md
fi
$PY "$HERE/report.py" "$W/meta.json" "$W/results.jsonl" >"$W/report.md"
cp "$W/report.md" "$REPORT"
cat "$W/report.md"
log "report written to $REPORT"
