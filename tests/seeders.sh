# tests/seeders.sh: start real BitTorrent peers and a tracker for the
# integration tests, on loopback only. Sourced after lib.sh.
#
# Every start_* function starts one process in the background, registers it
# with t_track (so lib.sh's exit trap kills it), waits (bounded) until it is
# ready, and sets
#   SEED_PID   its PID (stop it early with stop_pid),
#   SEED_PORT  the TCP port it accepts peers on,
#   SEED_LOG   its output,
# or prints why on stderr and returns 1 (the caller reports not_ok).
# DHT, LSD/LPD, PEX, UPnP/NAT-PMP and uTP are off everywhere; every listener
# is bound to a 127.x address where the program allows it.

: "${SEED_READY_SECS:=45}"

# free_port: a TCP port that is free on 127.0.0.1 right now.
free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# alive PID: the process runs (an exited child that was not reaped yet, a
# zombie, does not count).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	case $(ps -o stat= -p "$1" 2>/dev/null) in Z*) return 1 ;; esac
}

# stop_pid PID: SIGTERM, then SIGKILL after 10 s; reaps it. A tracked PID
# that now belongs to another process (see t_started) is left alone.
stop_pid() {
	case " $T_PIDS" in *" $1:"*) t_owned "$1" || return 0 ;; esac
	kill "$1" 2>/dev/null || return 0
	_sp_n=0
	while alive "$1" && [ $_sp_n -lt 100 ]; do
		sleep 0.1
		_sp_n=$((_sp_n + 1))
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# wait_for SECS PID COMMAND...: poll COMMAND every 0.1 s until it succeeds
# (0), PID exits (1) or SECS pass (1). PID may be "" (no process to watch).
wait_for() {
	_wf_secs=$1
	_wf_end=$(($(date +%s) + $1))
	_wf_pid=$2
	shift 2
	while :; do
		if "$@"; then return 0; fi
		if [ -n "$_wf_pid" ] && ! alive "$_wf_pid"; then
			"$@" && return 0
			echo "seeders.sh: process $_wf_pid exited while waiting for: $*" >&2
			return 1
		fi
		if [ "$(date +%s)" -ge $_wf_end ]; then
			echo "seeders.sh: gave up after ${_wf_secs} s waiting for: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# port_open HOST PORT: something accepts TCP connections there.
port_open() {
	$PY -c 'import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(s.connect_ex((sys.argv[1], int(sys.argv[2]))) != 0)' "$1" "$2"
}

# log_has FILE PATTERN: the file (carriage returns as newlines) matches.
log_has() {
	[ -f "$1" ] && tr '\r' '\n' <"$1" | grep -q -- "$2"
}

# start_opentracker HEX_INFOHASH...: an opentracker serving HTTP and UDP on
# 127.0.0.1:$OT_PORT (a free port, unless OT_PORT is already set, so that
# torrents naming the port can be made first) that tracks exactly these
# info-hashes. Sets OT_PORT, OT_PID.
start_opentracker() {
	command -v opentracker >/dev/null || { echo "seeders.sh: opentracker is not installed" >&2; return 1; }
	[ -n "${OT_PORT:-}" ] || OT_PORT=$(free_port)
	_ot_dir=$(mktemp -d "$T_DIR/opentracker.XXXXXX")
	chmod 755 "$_ot_dir"
	for _h in "$@"; do echo "$_h"; done >"$_ot_dir/whitelist.txt"
	chmod 644 "$_ot_dir/whitelist.txt"
	# As root, opentracker chroots into -d and drops to nobody before it
	# reads the whitelist: the path is then relative to the chroot.
	# Otherwise it stays outside and needs the real path.
	if [ "$(id -u)" -eq 0 ]; then _ot_wl=/whitelist.txt; else _ot_wl=$_ot_dir/whitelist.txt; fi
	opentracker -i 127.0.0.1 -p "$OT_PORT" -P "$OT_PORT" -d "$_ot_dir" -w "$_ot_wl" \
		>"$_ot_dir.log" 2>&1 &
	OT_PID=$!
	t_track $OT_PID
	SEED_PID=$OT_PID SEED_PORT=$OT_PORT SEED_LOG=$_ot_dir.log
	wait_for 10 $OT_PID _ot_ready "$OT_PORT" "$1" ||
		{ cat "$_ot_dir.log" >&2; return 1; }
}

# _ot_ready PORT HEX: opentracker takes an HTTP announce for HEX and answers
# a UDP connect request. Accepting connections is not enough: it binds UDP
# just after TCP, and reads its whitelist in a thread of its own once both
# are up, refusing every torrent until then. An announce with event=stopped
# is answered without looking at the whitelist, so the probe joins the
# swarm (a peer on port 1 that wants no peers) and, once taken, leaves it
# again with "stopped", before any test peer announces.
_ot_ready() {
	$PY - "$1" "$2" 2>/dev/null <<'PY'
import socket, struct, sys, urllib.parse, urllib.request
port, hexhash = int(sys.argv[1]), sys.argv[2]
q = urllib.parse.quote(bytes.fromhex(hexhash), safe="")
url = ("http://127.0.0.1:%d/announce?info_hash=%s&peer_id=-PROBE-0000000000000"
       "&port=1&uploaded=0&downloaded=0&left=1&numwant=0&compact=1" % (port, q))
for event in ("", "&event=stopped"):
    body = urllib.request.urlopen(url + event, timeout=2).read()
    if b"interval" not in body or b"failure" in body:
        sys.exit(1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(0.5)
u.sendto(struct.pack(">QII", 0x41727101980, 0, 7), ("127.0.0.1", port))
if len(u.recv(64)) < 16:
    sys.exit(1)
PY
}

# ot_count HEX FIELD: opentracker's scrape count ("complete" = seeders,
# "incomplete" = leechers) for an info-hash; prints the number.
ot_count() {
	$PY - "$OT_PORT" "$1" "$2" <<'PY'
import re, sys, urllib.parse, urllib.request
port, hexhash, field = sys.argv[1:]
q = urllib.parse.quote(bytes.fromhex(hexhash), safe="")
body = urllib.request.urlopen("http://127.0.0.1:%s/scrape?info_hash=%s" % (port, q), timeout=2).read()
m = re.search(rb"%d:%si(\d+)e" % (len(field), field.encode()), body)
print(m.group(1).decode() if m else 0)
PY
}
_ot_at_least() { [ "$(ot_count "$1" "$2" 2>/dev/null || echo 0)" -ge "$3" ]; }

# ot_wait HEX SEEDERS [LEECHERS]: wait until opentracker knows at least that
# many seeders (and leechers) of the torrent, i.e. they have announced.
ot_wait() {
	wait_for 30 "$OT_PID" _ot_at_least "$1" complete "$2" &&
		wait_for 30 "$OT_PID" _ot_at_least "$1" incomplete "${3:-0}"
}

# start_lt_seed TORRENT DATA_DIR [PORT] [IP] [lt_seed.py OPTIONS...]:
# python3-libtorrent seeding DATA_DIR (checked first) on IP:PORT (default
# 127.0.0.1, any port). Options: --upload-limit BYTES (per second, local
# peers included), --partial (DATA_DIR holds only part of the data: it
# uploads the pieces that check good and downloads nothing). Ready once
# checked and the trackers have answered.
start_lt_seed() {
	_lt_t=$1 _lt_d=$2 _lt_port=${3:-0} _lt_ip=${4:-127.0.0.1}
	shift 2
	[ $# -gt 0 ] && shift
	[ $# -gt 0 ] && shift
	SEED_LOG=$(mktemp "$T_DIR/lt_seed.XXXXXX")
	$PY "$top_srcdir/tests/py/lt_seed.py" --timeout "$SEED_READY_SECS" \
		--ip "$_lt_ip" --port "$_lt_port" "$@" "$_lt_t" "$_lt_d" >"$SEED_LOG" 2>&1 &
	SEED_PID=$!
	t_track $SEED_PID
	if ! wait_for "$SEED_READY_SECS" $SEED_PID log_has "$SEED_LOG" '^ready '; then
		cat "$SEED_LOG" >&2
		return 1
	fi
	SEED_PORT=$(sed -n 's/^ready port=\([0-9]*\).*/\1/p' "$SEED_LOG")
}

# start_tr_seed TORRENT DATA_DIR PORT: transmission-cli 3.00 seeding
# DATA_DIR, listening on 127.0.0.1:PORT (and [::1]:PORT: it always opens an
# IPv6 socket, this is the narrowest address), encryption tolerated, in its
# own config dir. It verifies a newly added torrent's data by itself (no -v
# needed) and prints "Seeding" once verified: that is the ready signal; it
# announces about a second later. It ignores the loopback peers a tracker
# returns and unchokes a new peer only at its 10-second choke round: the
# leecher must dial it, and waits up to ~10 s for data.
start_tr_seed() {
	command -v transmission-cli >/dev/null || { echo "seeders.sh: transmission-cli is not installed" >&2; return 1; }
	_tr_cfg=$(mktemp -d "$T_DIR/transmission.XXXXXX")
	_tr_dl=$(cd "$2" && pwd)
	cat >"$_tr_cfg/settings.json" <<EOF
{
    "dht-enabled": false,
    "lpd-enabled": false,
    "pex-enabled": false,
    "utp-enabled": false,
    "port-forwarding-enabled": false,
    "bind-address-ipv4": "127.0.0.1",
    "bind-address-ipv6": "::1",
    "rpc-enabled": false,
    "blocklist-enabled": false,
    "encryption": 0,
    "peer-port": $3,
    "peer-port-random-on-start": false,
    "download-dir": "$_tr_dl",
    "incomplete-dir-enabled": false,
    "speed-limit-up-enabled": false,
    "speed-limit-down-enabled": false,
    "alt-speed-enabled": false,
    "ratio-limit-enabled": false,
    "idle-seeding-limit-enabled": false,
    "start-added-torrents": true,
    "message-level": 2
}
EOF
	SEED_LOG=$_tr_cfg/out.log
	# Its status line goes to a block-buffered stdout when that is a file
	# ("Seeding" would show up ~10 s late): unbuffer it.
	_tr_unbuf=""
	command -v stdbuf >/dev/null && _tr_unbuf="stdbuf -o0"
	: >"$SEED_LOG"
	$_tr_unbuf transmission-cli -g "$_tr_cfg" -w "$_tr_dl" -p "$3" -et -M "$1" >"$SEED_LOG" 2>&1 &
	SEED_PID=$!
	SEED_PORT=$3
	t_track $SEED_PID
	# (Its listening socket exists from the start; no connection probe, so
	# that the leecher's connection is the first one from 127.0.0.1.)
	if ! wait_for "$SEED_READY_SECS" $SEED_PID log_has "$SEED_LOG" '^Seeding'; then
		tr '\r' '\n' <"$SEED_LOG" | tail -20 >&2
		return 1
	fi
}

# start_aria2_seed TORRENT DATA_DIR PORT [ARIA2 OPTIONS...]: aria2c checking
# then seeding DATA_DIR forever, listening on 127.0.0.1:PORT. Ready once its
# status line says SEED (it checks first) and its port accepts connections.
# aria2 acts once a second, so it announces about a second after that.
# aria2 speaks UDP tracker only through its DHT socket: with DHT off it
# skips udp:// trackers ("udp is not supported yet"); to seed a udp://
# torrent, swap the tracker, e.g. --bt-exclude-tracker=UDP_URL
# --bt-tracker=HTTP_URL (opentracker shares the swarm between the two).
start_aria2_seed() {
	command -v aria2c >/dev/null || { echo "seeders.sh: aria2c is not installed" >&2; return 1; }
	SEED_LOG=$(mktemp "$T_DIR/aria2.XXXXXX")
	_a2_t=$1 _a2_d=$2 _a2_p=$3
	shift 3
	aria2c --no-conf --enable-dht=false --enable-dht6=false --bt-enable-lpd=false \
		--enable-peer-exchange=false --seed-ratio=0.0 --check-integrity=true \
		--listen-port="$_a2_p" --interface=127.0.0.1 --disable-ipv6=true \
		--bt-tracker-connect-timeout=5 --bt-tracker-timeout=5 \
		--summary-interval=1 --console-log-level=notice --file-allocation=none \
		--auto-save-interval=0 --max-upload-limit=0 \
		"$@" -d "$_a2_d" "$_a2_t" >"$SEED_LOG" 2>&1 &
	SEED_PID=$!
	SEED_PORT=$_a2_p
	t_track $SEED_PID
	if ! wait_for "$SEED_READY_SECS" $SEED_PID log_has "$SEED_LOG" 'SEED(' ||
		! wait_for 10 $SEED_PID port_open 127.0.0.1 "$_a2_p"; then
		tr '\r' '\n' <"$SEED_LOG" | tail -20 >&2
		return 1
	fi
}
