#!/bin/bash
# bench/seed.sh: seeding benchmark. Three python3-libtorrent leechers
# (127.0.0.2-4) download one torrent at the same time from ONE seeder, which
# is in turn pieces (`pieces seed`), python3-libtorrent (lt_seed.py) and
# transmission-cli 3.00; inside a network namespace that has only `lo`.
# See bench/README.md. Needs root (network namespace). Not part of make check.
#
# Environment (all optional):
#   PIECES          the pieces binary (default: ./pieces, then ../pieces
#                   next to bench/, then pieces on PATH)
#   BENCH_SIZE_MB   torrent size in MiB (default 1024; 1 MiB pieces)
#   BENCH_RUNS      timed runs per seeder (default 1)
#   BENCH_SEEDERS   default "pieces libtorrent transmission"
#   BENCH_WARMUP    seeders for the unreported warm-up run (default
#                   libtorrent; "none" for none)
#   BENCH_SLOTS     pieces seed --slots (default 4: its choker unchokes
#                   slots+1 interested peers, so all three leechers)
#   BENCH_PIECES_ARGS  extra arguments for pieces seed (e.g. -v)
#   BENCH_TIMEOUT   seconds per run (default 300)
#   BENCH_DIR       where the temporary work folder goes (default /var/tmp)
#   BENCH_RESULTS   report folder (default bench/results next to this script)
#   BENCH_KEEP=1    keep the work folder (payload, logs, raw JSON)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

BENCH_NAME=seed.sh
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
# Outside: run this script again inside its own network namespace; inside: go on.
bench_netns pcseed "it creates a network namespace" "$0" "$@"
bench_find_pieces

GITV=$(git -C "$HERE/.." describe --always --dirty 2>/dev/null || echo '?')
SIZE_MB=${BENCH_SIZE_MB:-1024}
RUNS=${BENCH_RUNS:-1}
SEEDERS=${BENCH_SEEDERS:-pieces libtorrent transmission}
WARMUP=${BENCH_WARMUP:-libtorrent}
[ "$WARMUP" = none ] && WARMUP=
SLOTS=${BENCH_SLOTS:-4}
TIMEOUT=${BENCH_TIMEOUT:-300}
RESULTS=${BENCH_RESULTS:-$HERE/results}
read -r -a PIECES_ARGS <<<"${BENCH_PIECES_ARGS:-}"

for s in $SEEDERS $WARMUP; do
	case $s in
	pieces | libtorrent) ;;
	transmission) command -v transmission-cli >/dev/null || die "transmission-cli not installed" ;;
	*) die "unknown seeder $s" ;;
	esac
done
command -v openssl >/dev/null || die "openssl not installed"
$PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent not installed"
UNBUF=
command -v stdbuf >/dev/null && UNBUF="stdbuf -o0 -e0"

mkdir -p "${BENCH_DIR:-/var/tmp}"
W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/pieces-seed.XXXXXX")
PIDS=""
track() { PIDS="$PIDS $1"; }

stop_pid() { # PID [SIGNAL]: SIGNAL (TERM), up to 10 s, then KILL; bounded
	kill "-${2:-TERM}" "$1" 2>/dev/null || return 0
	for _ in $(seq 100); do
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

# wait_for SECONDS PID COMMAND...: poll until COMMAND succeeds; 1 on
# timeout or when PID has exited.
wait_for() {
	local n=$(($1 * 10)) pid=$2
	shift 2
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
listening() { # ADDR PORT (libtorrent's socket shows as 127.0.0.1%lo:PORT)
	ss -Hltn "sport = :$2" | grep -qE "(^| )$1(%[^ :]*)?:$2 "
}
log_has() { # FILE PATTERN (carriage returns as newlines)
	[ -f "$1" ] && tr '\r' '\n' <"$1" | grep -q -- "$2"
}

# --- Payload -------------------------------------------------------------
MiB=1048576
SRC=$W/src
mkdir -p "$SRC"
log "generating payload: ${SIZE_MB} MiB"
# Random bytes, fast: AES-CTR keystream of zeros.
openssl enc -aes-128-ctr -nosalt -pass pass:pieces-seed-bench -in /dev/zero 2>/dev/null |
	head -c $((SIZE_MB * MiB)) >"$SRC/single.bin"
BYTES=$(stat -c %s "$SRC/single.bin")
# No tracker: the leechers dial the seeder (Transmission 3.00 ignores
# loopback peers from a tracker anyway).
"$PIECES" create -q -l 1M -o "$W/single.torrent" "$SRC/single.bin"
TOR=$W/single.torrent

# --- Seeders -------------------------------------------------------------
# Ports below Linux's ephemeral range, a fresh one per seeder start.
PORT=21000
SPID=
# start_seeder NAME LABEL: start it on 127.0.0.1:PORT seeding $SRC and wait
# until it has checked the data; sets SPID.
start_seeder() {
	local s=$1 label=$2 slog=$W/seeder-$2.log cfg
	PORT=$((PORT + 1))
	: >"$slog"
	case $s in
	pieces)
		# Not -q: "pieces: seeding (Ctrl-C to stop)" marks the end of
		# the check (and a status line every 10 s follows).
		"$PIECES" seed -p "$PORT" --bind 127.0.0.1 --slots "$SLOTS" \
			${PIECES_ARGS[@]+"${PIECES_ARGS[@]}"} "$TOR" "$SRC" >"$slog" 2>&1 &
		SPID=$!
		track "$SPID"
		wait_for 240 "$SPID" log_has "$slog" '^pieces: seeding (' &&
			wait_for 10 "$SPID" listening 127.0.0.1 "$PORT"
		;;
	libtorrent)
		$PY "$HERE/lt_seed.py" --ip 127.0.0.1 --port "$PORT" --save "$SRC" \
			--timeout 240 "$TOR" >"$slog" 2>&1 &
		SPID=$!
		track "$SPID"
		wait_for 240 "$SPID" log_has "$slog" '^ready' &&
			wait_for 10 "$SPID" listening 127.0.0.1 "$PORT"
		;;
	transmission)
		cfg=$W/tr-$label
		rm -rf "$cfg"
		mkdir -p "$cfg"
		cat >"$cfg/settings.json" <<-EOF
			{
			  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
			  "utp-enabled": false, "port-forwarding-enabled": false,
			  "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
			  "peer-port": $PORT, "peer-port-random-on-start": false,
			  "encryption": 0, "rpc-enabled": false, "blocklist-enabled": false,
			  "speed-limit-down-enabled": false, "speed-limit-up-enabled": false,
			  "alt-speed-enabled": false, "ratio-limit-enabled": false,
			  "idle-seeding-limit-enabled": false,
			  "peer-limit-global": 200, "peer-limit-per-torrent": 50,
			  "download-queue-enabled": false, "seed-queue-enabled": false,
			  "incomplete-dir-enabled": false, "start-added-torrents": true,
			  "download-dir": "$SRC", "message-level": 1
			}
		EOF
		# It prints "Seeding" once it has verified the data; its stdout
		# is block-buffered into a file, hence stdbuf.
		$UNBUF transmission-cli -g "$cfg" -w "$SRC" -p "$PORT" -et -U -M "$TOR" \
			>"$slog" 2>&1 &
		SPID=$!
		track "$SPID"
		wait_for 240 "$SPID" log_has "$slog" '^Seeding' &&
			wait_for 10 "$SPID" listening 127.0.0.1 "$PORT"
		;;
	esac
}
stop_seeder() { # NAME
	case $1 in
	pieces | transmission) stop_pid "$SPID" INT ;;
	*) stop_pid "$SPID" TERM ;;
	esac
}

# run_seeder NAME RUN: one timed run; prints a JSON record on fd 3.
run_seeder() {
	local s=$1 run=$2 label=$1-$2 d dirs=() status ok=true n wall
	if ! start_seeder "$s" "$label"; then
		log "$s did not get ready; last lines of $W/seeder-$label.log:"
		tr '\r' '\n' <"$W/seeder-$label.log" | tail -n 5 >&2 || true
		stop_seeder "$s"
		status=NOTREADY
		ok=false
		echo "{\"seeder\": \"$s\", \"run\": $run, \"status\": \"$status\", \"bytes\": $BYTES}" >&3
		return
	fi
	for n in 2 3 4; do
		d=$W/dl/$label-$n
		rm -rf "$d"
		mkdir -p "$d"
		dirs+=("$d")
	done
	sync
	status=ok
	$PY "$HERE/seed_swarm.py" --seeder-pid "$SPID" --peer "127.0.0.1:$PORT" \
		--json "$W/r-$label.json" --timeout "$TIMEOUT" "$TOR" "${dirs[@]}" \
		>"$W/swarm-$label.log" 2>&1 || status=ERROR
	if ! kill -0 "$SPID" 2>/dev/null; then
		status=SEEDER_DIED
	fi
	stop_seeder "$s"
	if [ "$status" = ok ]; then
		for d in "${dirs[@]}"; do
			cmp -s "$SRC/single.bin" "$d/single.bin" || { ok=false; status=FAILED; }
		done
	else
		ok=false
	fi
	$PY - "$W/r-$label.json" "$s" "$run" "$BYTES" "$status" "$ok" >&3 <<-'EOF'
		import json, sys
		try:
		    r = json.load(open(sys.argv[1]))
		except (OSError, ValueError):
		    r = {}
		st = sys.argv[5]
		if st == "ERROR" and r.get("error"):
		    st = "ERROR: " + r["error"]
		r.update(seeder=sys.argv[2], run=int(sys.argv[3]), bytes=int(sys.argv[4]),
		         status=st, verified=sys.argv[6] == "true")
		print(json.dumps(r))
	EOF
	wall=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["wall"])' \
		"$W/r-$label.json" 2>/dev/null || echo '?')
	log "$(printf '%-12s run %s: %s, wall %s s' "$s" "$run" "$status" "$wall")"
	if [ "$status" != ok ]; then
		cat "$W/swarm-$label.log" >&2 || true
		log "last lines of the seeder's log ($W/seeder-$label.log):"
		tr '\r' '\n' <"$W/seeder-$label.log" | tail -n 5 >&2 || true
		if [ "${BENCH_KEEP:-0}" = 1 ]; then
			mv "$W/dl" "$W/failed-$label"
		fi
	fi
	rm -rf "$W/dl" "$W/tr-$label"
	sync
	sleep 1
}

exec 3>"$W/warmup.jsonl"
for s in $WARMUP; do
	log "warm-up: $s"
	run_seeder "$s" 0
done
exec 3>"$W/results.jsonl"
for run in $(seq "$RUNS"); do
	for s in $SEEDERS; do
		run_seeder "$s" "$run"
	done
done
exec 3>&-

# --- Report --------------------------------------------------------------
versions=()
for s in $SEEDERS; do
	case $s in
	pieces) versions+=("pieces $("$PIECES" --version 2>&1 | head -n1 | awk '{print $NF}') (pieces seed --slots $SLOTS)") ;;
	transmission) versions+=("$(transmission-cli --version 2>&1 | head -n1)") ;;
	libtorrent) versions+=("python3-libtorrent $($PY -c 'import libtorrent; print(libtorrent.__version__)') (lt_seed.py)") ;;
	esac
done
DATE=$(date +%Y-%m-%d)
$PY - "$W/meta.json" "$SEEDERS" "$RUNS" "$WARMUP" "$BYTES" "$PIECES" "$GITV" \
	"$(date '+%Y-%m-%d %H:%M %Z')" "${versions[@]}" <<-'EOF'
	import json, os, platform, sys
	import libtorrent
	a = sys.argv
	cpu = "?"
	for line in open("/proc/cpuinfo"):
	    if line.startswith("model name"):
	        cpu = line.split(":", 1)[1].strip()
	        break
	cpu = "%s x%d" % (cpu, os.cpu_count())
	meta = dict(seeders=a[2].split(), runs=int(a[3]),
	            warmup=(a[4] + " seeder") if a[4] else "none", bytes=int(a[5]),
	            pieces_bin=a[6], pieces_version=a[7], date=a[8], versions=a[9:],
	            kernel="Linux " + platform.release(), cpu=cpu,
	            libtorrent=libtorrent.__version__)
	json.dump(meta, open(a[1], "w"))
EOF
mkdir -p "$RESULTS"
# Quick runs (other sizes) do not overwrite the full run's report.
if [ "$SIZE_MB" = 1024 ]; then
	REPORT=$RESULTS/seed-$DATE.md
else
	REPORT=$RESULTS/seed-$DATE-${SIZE_MB}M.md
fi
$PY "$HERE/seed_report.py" "$W/meta.json" "$W/results.jsonl" >"$W/report.md"
cp "$W/report.md" "$REPORT"
cat "$W/report.md"
log "report written to $REPORT"
