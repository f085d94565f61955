#!/bin/sh
# Integration test of seeding (issue 4) against real peers on loopback:
#  1. Transmission, python3-libtorrent and aria2 each download a single-file
#     and a multi-file torrent from a `pieces seed` that is the only seeder,
#     (a) through opentracker over HTTP and (b) with the peer given directly.
#     Transmission 3.00 ignores loopback peers from trackers, so pieces dials
#     it: in (a) pieces learns its address from opentracker (Transmission
#     announces first), in (b) from --peer. libtorrent in (a) finds pieces
#     through opentracker, in (b) through connect_peer. aria2 cannot be given
#     a peer on its command line (no such option in `aria2c --help=#bittorrent`),
#     so in (b) pieces dials it with --peer, on a torrent without trackers.
#  2. A swarm: one `pieces seed --max-up 256K` and three `pieces download
#     --seed` leechers through opentracker: all complete and the leechers
#     upload to one another (their "bytes uploaded" counters). They all
#     listen on 127.0.0.1 (distinct ports): --bind sets only the listening
#     address, and opentracker records the address a request comes from,
#     so a leecher on --bind 127.0.0.2 would be announced as 127.0.0.1.
#  3. Misbehaving peers (tests/py/evil_peer.py): requests for pieces the
#     seeder lacks, impossible requests, a request flood without reading, an
#     oversized frame, garbage instead of a handshake: each is disconnected,
#     while a libtorrent leecher downloading at the same time completes, and
#     the seeder's peak RSS stays under 100 MB.
#  4. Rate limits: `pieces seed --max-up 1M` measured by a libtorrent leecher,
#     `pieces download --max-down 1M` from a libtorrent seeder (16 MiB each);
#     the measured rate / limit is printed and must be within 0.5x..1.5x.
#  5. IPv6: `pieces seed --bind ::1`, `pieces download` from it over ::1.
#  6. Seeding goals: `pieces seed --seed-time 3s` stops by itself (status 0,
#     not before 3 s); `pieces seed --seed-ratio 1` stops by itself once a
#     libtorrent leecher has downloaded the whole torrent from it.
#  7. `pieces download --seed --slots 1 --max-up 256K` over complete data,
#     three libtorrent leechers: at most 2 (the slot and the optimistic
#     unchoke) are unchoked at any moment, and together they receive less
#     than 2x the limit.
#  8. `pieces seed --max-peers 4` and 10 peers connecting at once: it holds
#     at most 4 connections (ss), and takes new ones once those have gone.
#  9. Without -p and --bind, `pieces seed` and `pieces download` listen on
#     0.0.0.0:6881 and [::]:6881 (ss); port 6881 must be free for it.
# 10. `pieces seed --max-peers 2` held by two peers that want nothing: after
#     20 s a libtorrent leecher that dials in takes one's place and
#     downloads, and pieces never holds more than 2 connections. The same
#     for `pieces download --max-peers 2` and a libtorrent seeder that
#     turns up late.
# Every download is compared byte for byte with the source.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/seeders.sh"
cd "$T_DIR"

missing=""
for tool in opentracker transmission-cli aria2c ss; do
	command -v $tool >/dev/null || missing="$missing $tool"
done
$PY -c 'import libtorrent' 2>/dev/null || missing="$missing python3-libtorrent"
if [ -n "$missing" ]; then
	not_ok "required tools are installed (missing:$missing)"
	t_done
	exit 1
fi

SAMPLES=$top_srcdir/sample-torrents/data
SINGLE=pieces-sample.bin
MULTI=pieces-sample-multi
SWARM=swarm.bin
EVIL=evil.bin
RATE=rate.bin
LEECH=$top_srcdir/tests/py/lt_leech.py
EVILPY=$top_srcdir/tests/py/evil_peer.py

T_START=$(date +%s)
section() { echo "# $* (at $(($(date +%s) - T_START)) s)"; }

# Reference payloads: the samples, and random ones (4 MiB + a short last
# piece for the swarm, 8 MiB for the misbehaving peers, 16 MiB for the rate
# limits), with a copy of the 8 MiB one that holds only its first half.
mkdir src half
cp -R "$SAMPLES/$SINGLE" "$SAMPLES/$MULTI" src/
[ -f src/$MULTI/empty.txt ] && [ ! -s src/$MULTI/empty.txt ] ||
	{ not_ok "sample multi-file payload has its 0-byte file"; t_done; exit 1; }
$PY - <<'PY'
import random
rng = random.Random(20261124)
open("src/swarm.bin", "wb").write(rng.randbytes(4 * 1048576 + 7777))
evil = rng.randbytes(8 * 1048576)
open("src/evil.bin", "wb").write(evil)
open("half/evil.bin", "wb").write(evil[:len(evil) // 2] + bytes(len(evil) - len(evil) // 2))
open("src/rate.bin", "wb").write(rng.randbytes(16 * 1048576))
PY

info_field() { "$PIECES" info --json "$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
hash_of() { info_field "$1.torrent" info_hash; }
size_of() { info_field "$1.torrent" total_size; }

OT_PORT=$(free_port)
HTTP=http://127.0.0.1:$OT_PORT/announce
HASHES=""
# mk NAME PAYLOAD [PIECE_SIZE] [ANNOUNCE]: NAME.torrent over src/PAYLOAD,
# without trackers unless ANNOUNCE is given; the source tag makes each
# info-hash distinct, so every case has a swarm of its own.
mk() {
	"$PIECES" create -q -l "${3:-32K}" ${4:+-a "$4"} -s "seed-test-$1" -o "$1.torrent" "src/$2" ||
		{ echo "# pieces create failed for $1" >&2; exit 1; }
	[ -z "${4:-}" ] || HASHES="$HASHES $(hash_of "$1")"
}
for c in tr lt aria2; do
	mk $c-trk-single $SINGLE 32K "$HTTP"
	mk $c-trk-multi $MULTI 32K "$HTTP"
	mk $c-dir-single $SINGLE
	mk $c-dir-multi $MULTI
done
mk swarm $SWARM 32K "$HTTP"
mk evil $EVIL 64K
mk rate-up $RATE 256K
mk rate-down $RATE 256K

if start_opentracker $HASHES; then ok "opentracker runs on 127.0.0.1:$OT_PORT"; else
	not_ok "opentracker runs"
	t_done
	exit 1
fi

# same_data SRC DST: DST has exactly SRC's files (a tree or one file), byte
# for byte; differences go to stdout as comments. With NO_EMPTY=1, a 0-byte
# file that DST lacks is only noted (Transmission 3.00 does not create them).
same_data() {
	NO_EMPTY=${NO_EMPTY:-0} $PY - "$1" "$2" <<'PY'
import os, sys
src, dst = sys.argv[1:]
def files(root):
    if os.path.isfile(root):
        return {"": root}
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = p
    return out
if not os.path.exists(dst):
    print("#   %s does not exist" % dst); sys.exit(1)
a, b = files(src), files(dst)
bad = []
for k in sorted(set(a) - set(b)):
    if os.environ["NO_EMPTY"] == "1" and os.path.getsize(a[k]) == 0:
        print("#   note: 0-byte file %s not created (a Transmission 3.00 habit)" % k)
    else:
        bad.append("missing: %s" % k)
bad += ["extra: %s" % k for k in sorted(set(b) - set(a))]
for k in sorted(set(a) & set(b)):
    if open(a[k], "rb").read() != open(b[k], "rb").read():
        bad.append("differs: %s" % (k or dst))
for x in bad:
    print("#   " + x)
sys.exit(1 if bad else 0)
PY
}

# show LABEL FILE [N]: the last N (15) lines of a log, as comments.
show() {
	echo "#   $1:"
	[ -f "$2" ] && tr '\r' '\n' <"$2" | tail -"${3:-15}" | sed 's/^/#     /'
}

# start_pieces_seed NAME TORRENT DIR [OPTIONS...]: `pieces seed -v` on
# 127.0.0.1:PS_PORT (a free port), output in NAME.out/NAME.err; ready once
# it has checked its data and says it is seeding (or its stderr matches
# $SEED_READY_RE). Sets PS_PID (pieces itself, not a wrapper: stop it with
# stop_pieces).
start_pieces_seed() {
	_ps_n=$1 _ps_t=$2 _ps_d=$3
	shift 3
	PS_PORT=$(free_port)
	"$PIECES" seed -v -p "$PS_PORT" --bind 127.0.0.1 "$@" "$_ps_t" "$_ps_d" \
		>"$_ps_n.out" 2>"$_ps_n.err" &
	PS_PID=$!
	t_track $PS_PID
	wait_for 30 $PS_PID log_has "$_ps_n.err" "${SEED_READY_RE:-^pieces: seeding}" ||
		{ show "pieces seed" "$_ps_n.err"; return 1; }
}

# stop_pieces PID: SIGINT (pieces prints its summary and tells the tracker),
# SIGKILL after 10 s; reaps it. Sets STOP_RC, its exit status (137 when
# it had to be killed).
stop_pieces() {
	STOP_RC=0
	case " $T_PIDS" in *" $1:"*) t_owned "$1" || return 0 ;; esac
	kill -INT "$1" 2>/dev/null || true
	_sp_n=0
	while alive "$1" && [ $_sp_n -lt 100 ]; do
		sleep 0.1
		_sp_n=$((_sp_n + 1))
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || STOP_RC=$?
}

# uploaded NAME: the "N bytes uploaded" of pieces' summary in NAME.out.
uploaded() { sed -n 's/.*[;,] \([0-9]*\) bytes uploaded.*/\1/p' "$1.out" | tail -1; }

# vm_hwm PID: peak resident set of a running process, in kB.
vm_hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || echo 0; }

# start_tr_leech TORRENT OUT PORT: transmission-cli downloading into OUT,
# listening on 127.0.0.1:PORT, in its own config dir. Sets TR_PID, TR_LOG.
start_tr_leech() {
	_tr_cfg=$(mktemp -d "$T_DIR/transmission.XXXXXX")
	mkdir -p "$2"
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
    "rename-partial-files": false,
    "speed-limit-up-enabled": false,
    "speed-limit-down-enabled": false,
    "alt-speed-enabled": false,
    "ratio-limit-enabled": false,
    "idle-seeding-limit-enabled": false,
    "start-added-torrents": true,
    "message-level": 2
}
EOF
	TR_LOG=$_tr_cfg/out.log
	transmission-cli -g "$_tr_cfg" -w "$_tr_dl" -p "$3" -et -M "$1" >"$TR_LOG" 2>&1 &
	TR_PID=$!
	t_track $TR_PID
	# Ready once its port listens (seen with ss, not probed: it allows one
	# connection per address).
	wait_for 20 $TR_PID listening "$3" || { show transmission "$TR_LOG"; return 1; }
}

# listening PORT: a TCP socket listens on 127.0.0.1:PORT (ss, no connection).
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# aria2 as a leecher: exits (0) once the download is complete.
ARIA2_OPTS="--no-conf --enable-dht=false --enable-dht6=false --bt-enable-lpd=false
	--enable-peer-exchange=false --seed-time=0 --interface=127.0.0.1 --disable-ipv6=true
	--bt-tracker-connect-timeout=5 --bt-tracker-timeout=5 --summary-interval=0
	--console-log-level=notice --file-allocation=none --auto-save-interval=0"

# ---- 1: Transmission, libtorrent, aria2 download from `pieces seed` ----------
# Each case NAME = CLIENT-MODE-KIND: MODE trk (opentracker) or dir (direct),
# KIND single or multi. Transmission sends INTERESTED only on its 10 s
# rechoke pulse, so its four cases run side by side, started first and
# checked after the libtorrent and aria2 ones.

# getv NAME: the value of the variable called NAME (per-case state).
getv() { eval "echo \"\${$1:-}\""; }

# case_setup NAME: the payload, an empty download folder and a seeder copy.
case_setup() {
	case_setup_vars "$1"
	mkdir -p "$out" "seed-$1"
	cp -R "src/$payload" "seed-$1/"
}

# case_finish NAME DONE HOW PEER_RE: the checks every case ends with, after
# the client has finished (DONE 1) or given up (0) and pieces is stopped.
case_finish() {
	_t=$1
	case_setup_vars "$_t"
	if [ "$2" = 1 ]; then ok "$_t: downloads from pieces seed ($3)"; else
		not_ok "$_t: downloads from pieces seed ($3)"
		show "pieces seed stderr" "$_t.err" 8
	fi
	if same_data "src/$payload" "$out/$payload"; then ok "$_t: every byte matches the source"; else
		not_ok "$_t: every byte matches the source"
	fi
	check "$_t: pieces logged the connection ($4)" log_has "$_t.err" "$4"
	_size=$(size_of "$_t")
	_up=$(uploaded "$_t")
	if [ "$STOP_RC" -eq 0 ] && [ -n "$_up" ] && [ "$_up" -ge "$_size" ]; then
		ok "$_t: pieces seed exits 0 on SIGINT, summary says $_up bytes uploaded (size $_size)"
	else
		not_ok "$_t: pieces seed exits 0 on SIGINT (status $STOP_RC), summary says >= $_size bytes uploaded (${_up:-none})"
		show "pieces seed stdout" "$_t.out" 3
	fi
}
# case_setup_vars NAME: sets payload and out for the case.
case_setup_vars() {
	case $1 in *single) payload=$SINGLE ;; *) payload=$MULTI ;; esac
	out=dl-$1
}

# Transmission: begin starts it and pieces; end waits and checks.
tr_begin() {
	t=tr-$1-$2
	case_setup $t
	eval "TRSKIP_$1_$2=1"
	TP=$(free_port)
	start_tr_leech $t.torrent "$out" "$TP" || { not_ok "$t: transmission-cli starts"; return 0; }
	eval "TRPID_$1_$2=$TR_PID TRLOG_$1_$2=$TR_LOG TRPORT_$1_$2=$TP"
	if [ "$1" = trk ]; then
		# Transmission announces first; pieces learns it from the tracker.
		ot_wait "$(hash_of $t)" 0 1 || { not_ok "$t: Transmission announced"; stop_pid $TR_PID; return 0; }
		start_pieces_seed $t $t.torrent seed-$t || { not_ok "$t: pieces seed starts"; stop_pid $TR_PID; return 0; }
	else
		start_pieces_seed $t $t.torrent seed-$t --peer 127.0.0.1:$TP ||
			{ not_ok "$t: pieces seed starts"; stop_pid $TR_PID; return 0; }
	fi
	eval "TRSKIP_$1_$2=0 TRPS_$1_$2=$PS_PID"
}
tr_end() {
	t=tr-$1-$2
	[ "$(getv TRSKIP_$1_$2)" = 0 ] || return 0
	_pid=$(getv TRPID_$1_$2) _log=$(getv TRLOG_$1_$2) _tp=$(getv TRPORT_$1_$2)
	_left=$((TR_DEADLINE - $(date +%s)))
	[ $_left -ge 1 ] || _left=1
	_done=0
	wait_for $_left "$_pid" log_has "$_log" 'State changed from "Incomplete" to "Complete"' && _done=1
	[ $_done = 1 ] || show transmission "$_log" 5
	stop_pid "$_pid"
	stop_pieces "$(getv TRPS_$1_$2)"
	if [ "$1" = trk ]; then _how="pieces dialled Transmission, found through opentracker"; else
		_how="pieces dialled Transmission, given with --peer"
	fi
	NO_EMPTY=1 case_finish $t $_done "$_how" "127\.0\.0\.1:$_tp: connected (outgoing)"
}

lt_case() {
	t=lt-$1-$2
	case_setup $t
	start_pieces_seed $t $t.torrent seed-$t || { not_ok "$t: pieces seed starts"; return 0; }
	if [ "$1" = trk ]; then
		ot_wait "$(hash_of $t)" 1 || { not_ok "$t: pieces announced"; stop_pieces $PS_PID; return 0; }
		set -- ; _how="libtorrent found pieces through opentracker"
	else
		set -- --peer 127.0.0.1:$PS_PORT; _how="libtorrent connect_peer"
	fi
	_done=0
	timeout 40 $PY "$LEECH" --timeout 30 "$@" $t.torrent $out >$out.log 2>&1 && _done=1
	[ $_done = 1 ] || show libtorrent $out.log 5
	stop_pieces $PS_PID
	case_finish $t $_done "$_how" "127\.0\.0\.1:[0-9]*: connected (incoming)"
}

# aria2 cannot be given a peer: in "dir" mode pieces dials it.
aria2_case() {
	t=aria2-$1-$2
	case_setup $t
	_done=0
	if [ "$1" = trk ]; then
		start_pieces_seed $t $t.torrent seed-$t || { not_ok "$t: pieces seed starts"; return 0; }
		ot_wait "$(hash_of $t)" 1 || { not_ok "$t: pieces announced"; stop_pieces $PS_PID; return 0; }
		# shellcheck disable=SC2086
		timeout 15 aria2c $ARIA2_OPTS --listen-port="$(free_port)" -d $out $t.torrent \
			>$out.log 2>&1 && _done=1
		_how="aria2 found pieces through opentracker"
		_re="127\.0\.0\.1:[0-9]*: connected (incoming)"
	else
		AP=$(free_port)
		# shellcheck disable=SC2086
		timeout 15 aria2c $ARIA2_OPTS --listen-port="$AP" -d $out $t.torrent >$out.log 2>&1 &
		A2=$!
		t_track $A2
		wait_for 10 $A2 port_open 127.0.0.1 "$AP" || { not_ok "$t: aria2 listens"; show aria2 $out.log; return 0; }
		start_pieces_seed $t $t.torrent seed-$t --peer 127.0.0.1:$AP ||
			{ not_ok "$t: pieces seed starts"; return 0; }
		wait $A2 && _done=1 || true
		_how="pieces dialled aria2, given with --peer"
		_re="127\.0\.0\.1:$AP: connected (outgoing)"
	fi
	[ $_done = 1 ] || show aria2 $out.log 3
	stop_pieces $PS_PID
	case_finish $t $_done "$_how" "$_re"
}

section "1: Transmission, libtorrent and aria2 download from pieces seed"
for m in trk dir; do
	for k in single multi; do tr_begin $m $k; done
done
# The Transmission cases must be done 40 s from now.
TR_DEADLINE=$(($(date +%s) + 40))
section "1: Transmission started"
for m in trk dir; do
	for k in single multi; do lt_case $m $k; done
done
section "1: libtorrent done"
for m in trk dir; do
	for k in single multi; do aria2_case $m $k; done
done
section "1: aria2 done"
for m in trk dir; do
	for k in single multi; do tr_end $m $k; done
done
section "1: Transmission done"

# ---- 2: one rate-limited pieces seeder, three pieces leechers ---------------
section "2: swarm of one seeder (--max-up 256K) and three pieces leechers"
SW_SIZE=$(size_of swarm)
mkdir seed-swarm
cp src/$SWARM seed-swarm/
if start_pieces_seed swarm swarm.torrent seed-swarm --max-up 256K && SW_SEED=$PS_PID &&
	SW_PORT=$PS_PORT && ot_wait "$(hash_of swarm)" 1; then
	SW_PIDS=""
	for k in 2 3 4; do
		mkdir dl-swarm$k
		"$PIECES" download --seed -v --bind 127.0.0.1 -p "$(free_port)" -o dl-swarm$k swarm.torrent \
			>swarm$k.out 2>swarm$k.err &
		SW_PIDS="$SW_PIDS $!"
		t_track $!
		# One at a time, so each learns the ones before it from the tracker.
		ot_wait "$(hash_of swarm)" 1 $((k - 1)) || true
	done
	# 4 MiB at 256 KiB/s: about 17 s when the leechers trade, 50 s when
	# the seeder must send every leecher everything.
	all=1
	for k in 2 3 4; do
		wait_for 70 "" log_has swarm$k.err 'download complete; seeding' || all=0
	done
	section "2: leechers done"
	k=2
	for pid in $SW_PIDS; do
		stop_pieces $pid
		check "swarm: leecher $k exits 0 on SIGINT while seeding (status $STOP_RC)" test $STOP_RC -eq 0
		k=$((k + 1))
	done
	stop_pieces $SW_SEED
	seed_up=$(uploaded swarm)
	if [ $all = 1 ]; then ok "swarm: all three leechers complete"; else
		not_ok "swarm: all three leechers complete"
		for k in 2 3 4; do show "leecher $k" swarm$k.err 6; done
	fi
	sum=0 traded=0 line=""
	for k in 2 3 4; do
		check "swarm: leecher $k: every byte matches the source" same_data src/$SWARM dl-swarm$k/$SWARM
		u=$(uploaded swarm$k)
		line="$line leecher$k=${u:-?}"
		sum=$((sum + ${u:-0}))
		[ "${u:-0}" -gt 0 ] && traded=$((traded + 1))
	done
	echo "# swarm: size $SW_SIZE; bytes uploaded: seeder=${seed_up:-?}$line (leechers: $sum)"
	# Together the leechers got 3 copies; the seeder sent barely more than
	# one, so they must have sent each other at least one copy.
	if [ "$sum" -ge "$SW_SIZE" ]; then
		ok "swarm: the leechers traded: $traded of 3 uploaded, $sum bytes in all (>= the size, $SW_SIZE)"
	else
		not_ok "swarm: the leechers traded ($traded of 3 uploaded, $sum bytes in all; want >= $SW_SIZE)"
	fi
	if [ -n "$seed_up" ] && [ "$seed_up" -lt $((2 * SW_SIZE)) ]; then
		ok "swarm: the seeder uploaded less than 2 copies ($seed_up < $((2 * SW_SIZE)))"
	else
		not_ok "swarm: the seeder uploaded less than 2 copies (${seed_up:-?} vs $((2 * SW_SIZE)))"
	fi
	for k in 2 3 4; do
		n=$(tr '\r' '\n' <swarm$k.err | grep -E ': connected \((in|out)' | grep -c -v ":$SW_PORT: " || true)
		check "swarm: leecher $k had $n connection(s) to the other leechers (>= 1)" test "$n" -ge 1
	done
else
	not_ok "swarm: pieces seed starts and announces"
fi

# ---- 3: misbehaving peers ----------------------------------------------------
section "3: misbehaving peers"
EV_SIZE=$(size_of evil)
mkdir seed-evil
cp src/$EVIL seed-evil/
# evil NAME PORT TORRENT MODE LOG: one evil_peer.py run; checks it was
# disconnected and that pieces' log says why.
evil() {
	RC=0
	timeout 40 $PY "$EVILPY" --timeout 25 127.0.0.1 "$2" "$3" "$4" >evil-$1.out 2>&1 || RC=$?
	res=$(head -1 evil-$1.out)
	echo "# evil $1: $res"
	lp=$(sed -n 's/^local_port=\([0-9]*\) .*/\1/p' evil-$1.out)
	if [ $RC -eq 0 ]; then ok "evil $1: disconnected by pieces"; else
		not_ok "evil $1: disconnected by pieces (evil_peer.py status $RC)"
		show evil_peer evil-$1.out 5
	fi
	why=$(tr '\r' '\n' <"$5" | sed -n "s/^pieces: 127\.0\.0\.1:${lp:-x}: closed: //p" | head -1)
	check "evil $1: pieces logged the close: ${why:-nothing}" test -n "$why"
}
if start_pieces_seed evil-full evil.torrent seed-evil --max-up 2M && EF=$PS_PID; then
	# A well-behaved leecher, slowed by --max-up to about 4 s, meanwhile.
	mkdir dl-evil
	timeout 60 $PY "$LEECH" --timeout 50 --peer 127.0.0.1:$PS_PORT evil.torrent dl-evil >dl-evil.log 2>&1 &
	LT=$!
	t_track $LT
	wait_for 20 $LT log_has evil-full.err ': connected (incoming)' || true
	for mode in badreq flood bigframe garbage; do
		evil $mode $PS_PORT evil.torrent $mode evil-full.err
	done
	RC=0
	wait $LT || RC=$?
	if [ $RC -eq 0 ]; then ok "evil: the libtorrent leecher alongside completes ($(cat dl-evil.log | tail -1))"; else
		not_ok "evil: the libtorrent leecher alongside completes (status $RC)"
		show libtorrent dl-evil.log 5
	fi
	check "evil: the leecher's data matches the source" same_data src/$EVIL dl-evil/$EVIL
	hwm=$(vm_hwm $EF)
	stop_pieces $EF
	check "evil: pieces seed peak RSS ${hwm} kB < 100 MB" test "$hwm" -gt 0 -a "$hwm" -lt 102400
	check "evil: pieces seed exits 0 on SIGINT afterwards (status $STOP_RC)" test $STOP_RC -eq 0
else
	not_ok "evil: pieces seed starts"
fi
# Over half the data, pieces seed says so instead of "seeding".
if SEED_READY_RE='only 64 of 128 pieces are present' start_pieces_seed evil-half evil.torrent half &&
	EH=$PS_PID; then
	ok "evil: pieces seed over half the data says it has 64 of 128 pieces"
	evil missing $PS_PORT evil.torrent missing evil-half.err
	n=$(sed -n 's/.* lacking_blocks=\([0-9]*\) .*/\1/p' evil-missing.out)
	check "evil missing: no block of a missing piece was sent (${n:-?})" test "${n:-1}" -eq 0
	hwm=$(vm_hwm $EH)
	stop_pieces $EH
	check "evil: pieces seed (half data) peak RSS ${hwm} kB < 100 MB" test "$hwm" -gt 0 -a "$hwm" -lt 102400
else
	not_ok "evil: pieces seed over half the data starts"
fi

# ---- 4: rate limits --------------------------------------------------------------
section "4: rate limits"
# ratio BYTES SECS: measured rate / 1 MiB/s, 3 decimals.
ratio() { $PY -c 'import sys; print("%.3f" % (float(sys.argv[1]) / float(sys.argv[2]) / 1048576))' "$1" "$2"; }
within() { $PY -c 'import sys; sys.exit(not 0.5 <= float(sys.argv[1]) <= 1.5)' "$1"; }
mkdir seed-rate
cp src/$RATE seed-rate/
if start_pieces_seed rate-up rate-up.torrent seed-rate --max-up 1M && RU=$PS_PID; then
	mkdir dl-rate-up
	RC=0
	timeout 60 $PY "$LEECH" --timeout 50 --peer 127.0.0.1:$PS_PORT rate-up.torrent dl-rate-up \
		>dl-rate-up.log 2>&1 || RC=$?
	stop_pieces $RU
	line=$(grep '^done ' dl-rate-up.log || true)
	b=$(echo "$line" | sed -n 's/.*bytes=\([0-9]*\).*/\1/p')
	s=$(echo "$line" | sed -n 's/.*secs=\([0-9.]*\).*/\1/p')
	if [ $RC -eq 0 ] && [ -n "$b" ] && same_data src/$RATE dl-rate-up/$RATE; then
		r=$(ratio "$b" "$s")
		echo "# rate: pieces seed --max-up 1M: libtorrent received $b bytes in $s s = $(ratio "$b" "$s") MiB/s, ratio to the limit $r"
		check "rate: pieces seed --max-up 1M: measured/limit = $r (want 0.5..1.5)" within "$r"
	else
		not_ok "rate: libtorrent downloads the 16 MiB payload from pieces seed --max-up 1M (status $RC)"
		show libtorrent dl-rate-up.log 5
	fi
else
	not_ok "rate: pieces seed --max-up 1M starts"
fi
if start_lt_seed rate-down.torrent seed-rate; then
	mkdir dl-rate-down
	RC=0
	t0=$($PY -c 'import time; print(time.monotonic())')
	timeout 60 "$PIECES" download --max-down 1M --bind 127.0.0.1 -p 0 --peer 127.0.0.1:$SEED_PORT \
		-o dl-rate-down rate-down.torrent >dl-rate-down.out 2>dl-rate-down.err || RC=$?
	wall=$($PY -c 'import sys, time; print("%.3f" % (time.monotonic() - float(sys.argv[1])))' "$t0")
	stop_pid $SEED_PID
	s=$(sed -n 's/.*: complete, 100\.0% of .* in \([0-9.]*\) s .*/\1/p' dl-rate-down.out)
	if [ $RC -eq 0 ] && [ -n "$s" ] && same_data src/$RATE dl-rate-down/$RATE; then
		b=$(size_of rate-down)
		r=$(ratio "$b" "$s")
		echo "# rate: pieces download --max-down 1M: $b bytes in $s s by its summary ($wall s wall clock, start-up included) = ratio to the limit $r"
		check "rate: pieces download --max-down 1M: measured/limit = $r (want 0.5..1.5)" within "$r"
	else
		not_ok "rate: pieces download --max-down 1M completes from libtorrent (status $RC)"
		show "pieces stdout" dl-rate-down.out 3
		show "pieces stderr" dl-rate-down.err 5
	fi
else
	not_ok "rate: libtorrent seeder starts"
fi

section "5: IPv6: pieces seed on [::1], pieces download from it"
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
	mk v6 $SINGLE
	V6PORT=$(free_port)
	"$PIECES" seed -v -p "$V6PORT" --bind ::1 v6.torrent src >v6seed.out 2>v6seed.err &
	V6PID=$!
	t_track $V6PID
	if wait_for 30 $V6PID log_has v6seed.err '^pieces: seeding'; then
		mkdir dl-v6
		RC=0
		timeout 60 "$PIECES" download -v --bind ::1 -p 0 --peer "[::1]:$V6PORT" -o dl-v6 \
			v6.torrent >dl-v6.out 2>dl-v6.err || RC=$?
		check "ipv6: download over ::1 completes (status $RC)" test $RC -eq 0
		check "ipv6: data identical" same_data src/$SINGLE dl-v6/$SINGLE
		check "ipv6: the seeder saw an IPv6 peer" log_has v6seed.err '\[::1\]:[0-9]*: connected (incoming)'
	else
		not_ok "ipv6: pieces seed listens on ::1"
		show "pieces seed" v6seed.err 5
	fi
	stop_pieces $V6PID
else
	echo "# no ::1 on lo here: IPv6 case not run"
	not_ok "ipv6: loopback has ::1"
fi

# ---- 6: seeding goals -------------------------------------------------------------
section "6: --seed-time and --seed-ratio"
# exits_by SECS PID: PID ends within SECS; its exit status in EXIT_RC.
exits_by() {
	wait_for "$1" "" sh -c "! kill -0 $2 2>/dev/null" || return 1
	EXIT_RC=0
	wait "$2" || EXIT_RC=$?
}
mk goal-time $SINGLE
t0=$(date +%s)
if start_pieces_seed goal-time goal-time.torrent src --seed-time 3s && GT=$PS_PID; then
	if exits_by 30 $GT; then
		took=$(($(date +%s) - t0))
		echo "# --seed-time 3s: exited after ${took} s, status $EXIT_RC"
		check "seed-time: pieces seed --seed-time 3s stops by itself, status 0" [ $EXIT_RC -eq 0 ]
		check "seed-time: ... not before 3 s" [ $took -ge 3 ]
		check "seed-time: ... and says why" log_has goal-time.err '^pieces: seeding goal reached'
	else
		not_ok "seed-time: pieces seed --seed-time 3s stops by itself within 30 s"
		stop_pieces $GT
	fi
else
	not_ok "seed-time: pieces seed --seed-time 3s starts"
fi
mk goal-ratio $RATE 256K
if start_pieces_seed goal-ratio goal-ratio.torrent src --seed-ratio 1 && GR=$PS_PID; then
	mkdir dl-goal-ratio
	RC=0
	timeout 60 $PY "$LEECH" --timeout 50 --peer 127.0.0.1:$PS_PORT goal-ratio.torrent dl-goal-ratio \
		>dl-goal-ratio.log 2>&1 || RC=$?
	check "seed-ratio: libtorrent downloads the 16 MiB from it (status $RC)" [ $RC -eq 0 ]
	check "seed-ratio: ... byte for byte" same_data src/$RATE dl-goal-ratio/$RATE
	if exits_by 30 $GR; then
		check "seed-ratio: pieces seed --seed-ratio 1 stops by itself once it has uploaded the torrent, status 0" \
			[ $EXIT_RC -eq 0 ]
		check "seed-ratio: ... and says why" log_has goal-ratio.err '^pieces: seeding goal reached'
		sed -n '$p' goal-ratio.out | sed 's/^/#   /'
	else
		not_ok "seed-ratio: pieces seed --seed-ratio 1 stops by itself within 30 s of the upload"
		stop_pieces $GR
	fi
else
	not_ok "seed-ratio: pieces seed --seed-ratio 1 starts"
fi

# ---- 7: --slots and --max-up on pieces download --seed --------------------------
section "7: pieces download --seed --slots 1 --max-up 256K, three libtorrent leechers"
# pieces download --seed over a complete copy (it checks, finds everything,
# and seeds). Each leecher prints every 0.2 s what it has received and
# whether pieces unchokes it (lt_leech.py --status); after all three are
# connected, 6 s are watched. One regular slot plus the optimistic unchoke
# makes 2 unchoked at most: the third waits for a turn (30 s, longer than
# the test). 16 MiB at 256 KiB/s lasts far longer than the test.
# connected_n FILE N: pieces has logged at least N incoming connections.
connected_n() { [ "$(tr '\r' '\n' <"$1" | grep -c ': connected (incoming)')" -ge "$2" ]; }
# in_range LO HI N: LO <= N <= HI (N a number).
in_range() { [ "$1" -le "$3" ] && [ "$3" -le "$2" ]; }
mkdir seed-slots
cp src/$RATE seed-slots/
SL_PORT=$(free_port)
"$PIECES" download --seed -v --bind 127.0.0.1 -p "$SL_PORT" --slots 1 --max-up 256K -o seed-slots \
	rate-up.torrent >slots.out 2>slots.err &
SL=$!
t_track $SL
if wait_for 30 $SL log_has slots.err '^pieces: download complete; seeding'; then
	SL_PIDS=""
	for k in 1 2 3; do
		mkdir dl-slots$k
		$PY "$LEECH" --timeout 40 --status 0.2 --peer 127.0.0.1:$SL_PORT rate-up.torrent dl-slots$k \
			>slots$k.log 2>&1 &
		SL_PIDS="$SL_PIDS $!"
		t_track $!
	done
	if wait_for 20 $SL connected_n slots.err 3; then
		sleep 6
		for p in $SL_PIDS; do stop_pid $p; done
		# The leechers' lines merged on their common clock, from the moment
		# all three had pieces as their peer to the last line; a leecher
		# counts as choked after its last line (it has gone).
		$PY - 262144 slots1.log slots2.log slots3.log >slots.txt 2>&1 <<'PY' || true
import re, sys
limit = int(sys.argv[1])
series = []
for f in sys.argv[2:]:
    s = [tuple(float(x) for x in m.groups()) for m in
         (re.match(r"status t=([\d.]+) bytes=(\d+) peers=(\d+) unchoked=(\d+)", l) for l in open(f)) if m]
    series.append(s)
def at(s, t):
    before = [x for x in s if x[0] <= t]
    if not before:
        return (t, 0, 0, 0)
    return before[-1] if t <= s[-1][0] else (t, s[-1][1], 0, 0)
for f in sys.argv[2:]:
    done = [l for l in open(f) if l.startswith("done ")]
    if done:
        # 16 MiB at 256 KiB/s takes 64 s.
        sys.exit("error: %s finished the 16 MiB: %s" % (f, done[0].strip()))
firsts = [next((x[0] for x in s if x[2] > 0), None) for s in series]
if None in firsts:
    sys.exit("error: a leecher never had pieces as its peer")
start = max(firsts)
end = max(s[-1][0] for s in series)
times = sorted(x[0] for s in series for x in s if start <= x[0] <= end)
most = max(sum(1 for s in series if at(s, t)[3] > 0) for t in times)
ever = sum(1 for s in series if any(x[3] > 0 for x in s if start <= x[0] <= end))
# The rate from 1 s into the window (after the first burst) to its end.
t0 = start + 1
if end - t0 < 1:
    sys.exit("error: watched for %.2f s only" % (end - start))
got = sum(at(s, end)[1] for s in series) - sum(at(s, t0)[1] for s in series)
print("most=%d ever=%d secs=%.2f bytes=%d ratio=%.3f"
      % (most, ever, end - t0, got, got / (end - t0) / limit))
PY
		sed 's/^/# slots: /' slots.txt
		most=$(sed -n 's/.*most=\([0-9]*\).*/\1/p' slots.txt)
		ratio=$(sed -n 's/.*ratio=\([0-9.]*\).*/\1/p' slots.txt)
		check "slots 1: at most 2 leechers unchoked at any moment, 1 at least (most: ${most:-?})" \
			in_range 1 2 "${most:-9}"
		check "max-up 256K on download --seed: the leechers together got ${ratio:-?}x the limit (want > 0, < 2)" \
			$PY -c 'import sys; sys.exit(not 0 < float(sys.argv[1]) < 2)' "${ratio:-0}"
	else
		not_ok "slots: three libtorrent leechers connect to pieces download --seed"
		for k in 1 2 3; do show "leecher $k" slots$k.log 3; done
	fi
	for p in $SL_PIDS; do stop_pid $p; done
else
	not_ok "slots: pieces download --seed over complete data says it is seeding"
	show "pieces download" slots.err 5
fi
stop_pieces $SL

# ---- 8: --max-peers ---------------------------------------------------------------
section "8: --max-peers 4, ten peers connecting at once"
# tests/py/crowd_peer.py opens 10 connections before sending any
# handshake, holds them 3 s; meanwhile ss counts pieces' established
# connections every 0.1 s. Then, all gone, 2 more must be kept.
# conns PID: established TCP connections of PID.
conns() { ss -tnpH state established 2>/dev/null | grep -c "pid=$1," || true; }
no_conns() { [ "$(conns "$1")" -eq 0 ]; }
# most_conns PID OF: the most established connections of OF, counted every
# 0.1 s while PID runs (60 s at most).
most_conns() {
	_mc=0 _end=$(($(date +%s) + 60))
	while alive "$1" && [ "$(date +%s)" -lt $_end ]; do
		_n=$(conns "$2")
		[ "$_n" -gt $_mc ] && _mc=$_n
		sleep 0.1
	done
	echo $_mc
}
mk crowd $SINGLE
if start_pieces_seed crowd crowd.torrent src --max-peers 4 && CR=$PS_PID; then
	$PY "$top_srcdir/tests/py/crowd_peer.py" --hold 3 127.0.0.1 "$PS_PORT" crowd.torrent 10 \
		>crowd1.log 2>&1 &
	CP=$!
	t_track $CP
	most=$(most_conns $CP $CR)
	wait $CP || true
	sed 's/^/# crowd of 10: /' crowd1.log
	kept=$(sed -n 's/.* kept=\([0-9]*\).*/\1/p' crowd1.log)
	check "max-peers 4: pieces held at most 4 connections at a time (ss saw at most $most)" \
		in_range 1 4 $most
	check "max-peers 4: of the 10 peers, at most 4 were kept (${kept:-?})" in_range 1 4 "${kept:-9}"
	if wait_for 10 $CR no_conns $CR; then
		$PY "$top_srcdir/tests/py/crowd_peer.py" --hold 1 127.0.0.1 "$PS_PORT" crowd.torrent 2 >crowd2.log 2>&1 || true
		sed 's/^/# crowd of 2, after: /' crowd2.log
		check "max-peers 4: once they have gone, new peers are kept" grep -q 'kept=2 ' crowd2.log
	else
		not_ok "max-peers 4: pieces lets go of the crowd's connections once they close"
	fi
	stop_pieces $CR
else
	not_ok "max-peers: pieces seed --max-peers 4 starts"
fi

# ---- 9: the default listening address ------------------------------------------
section "9: without -p and --bind: 0.0.0.0:6881 and [::]:6881"
# listens PID ADDR: PID has a TCP socket listening on ADDR (as ss writes it).
listens() { ss -ltnpH 2>/dev/null | grep "pid=$1," | awk '{print $4}' | grep -Fqx -- "$2"; }
mk defport $SINGLE
busy=$(ss -ltnpH 'sport = :6881' 2>/dev/null | tr -s ' ' | tr '\n' ';')
if [ -n "$busy" ]; then
	not_ok "default port: 6881 must be free to check that pieces takes it by default; it is taken: $busy"
elif ! ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
	not_ok "default port: this host has IPv6 (no ::1 on lo)"
else
	mkdir dl-defport
	for cmd in seed download; do
		case $cmd in
		seed) set -- seed -v defport.torrent src ;;
		download) set -- download -v -o dl-defport defport.torrent ;;
		esac
		"$PIECES" "$@" >defport-$cmd.out 2>defport-$cmd.err &
		DP=$!
		t_track $DP
		wait_for 10 $DP listens $DP '0.0.0.0:6881' || true
		wait_for 2 $DP listens $DP '[::]:6881' || true
		l=$(ss -ltnpH 2>/dev/null | grep "pid=$DP," | awk '{print $4}' | tr '\n' ' ')
		check "default port: pieces $cmd listens on 0.0.0.0:6881 (it listens on: $l)" listens $DP '0.0.0.0:6881'
		check "default port: pieces $cmd listens on [::]:6881" listens $DP '[::]:6881'
		stop_pieces $DP
		[ -n "$l" ] || show "pieces $cmd" defport-$cmd.err 5
	done
fi

# ---- 10: a full seeder makes room for a peer that wants data -----------------------
section "10: --max-peers 2, both taken by peers that want nothing, then a leecher"
# Two crowd peers (handshake only: never interested) fill the places; once
# they have been useless for 20 s (SWAP_AFTER_MS), a libtorrent leecher
# dialling in must get one of them and the whole torrent, while ss never
# sees more than 2 connections of pieces.
# fill_and_wait PORT LOG: two crowd peers take both places of the pieces on
# PORT (SC: their PID), and stay useless past SWAP_AFTER_MS.
fill_and_wait() {
	$PY "$top_srcdir/tests/py/crowd_peer.py" --hold 45 127.0.0.1 "$1" swap.torrent 2 >"$2" 2>&1 &
	SC=$!
	t_track $SC
	wait_for 10 $SC log_has "$2" '^ready' || true
	sleep 21
}
mk swap $SINGLE
if start_pieces_seed swap swap.torrent src --max-peers 2 && SW=$PS_PID; then
	fill_and_wait "$PS_PORT" swap-crowd.log
	timeout 30 $PY "$LEECH" --timeout 20 --peer 127.0.0.1:$PS_PORT swap.torrent dl-swap \
		>dl-swap.log 2>&1 &
	SL=$!
	t_track $SL
	most=$(most_conns $SL $SW)
	wait $SL && rc=0 || rc=$?
	check "swap: the leecher downloads from a seeder whose 2 places were taken (status $rc)" \
		[ $rc -eq 0 ]
	check "swap: ... byte for byte" cmp -s "src/$SINGLE" "dl-swap/$SINGLE"
	check "swap: pieces held at most 2 connections at a time (ss saw at most $most)" \
		in_range 1 2 $most
	check "swap: pieces says which peer it let go and why" \
		grep -q 'of no use either way; its place goes to 127.0.0.1, who' swap.err
	[ $rc -eq 0 ] || { show "leecher" dl-swap.log 5; show "pieces seed" swap.err 10; }
	stop_pid $SC
	stop_pieces $SW
else
	not_ok "swap: pieces seed --max-peers 2 starts"
fi
# The downloading side: a torrent without trackers, nobody to dial, two
# useless peers dial in first, the seeder 21 s later.
SD_PORT=$(free_port)
mkdir dl-swapd
"$PIECES" download -v -p "$SD_PORT" --bind 127.0.0.1 --max-peers 2 -o dl-swapd swap.torrent \
	>swapd.out 2>swapd.err &
SD=$!
t_track $SD
if wait_for 10 $SD port_open 127.0.0.1 "$SD_PORT"; then
	fill_and_wait "$SD_PORT" swapd-crowd.log
	start_lt_seed swap.torrent src 0 127.0.0.1 --connect "127.0.0.1:$SD_PORT" || true
	most=$(most_conns $SD $SD)
	if alive $SD; then rc=124; else wait $SD && rc=0 || rc=$?; fi
	check "swap: pieces download --max-peers 2, full of useless peers, completes from a seeder that dials in late (status $rc)" \
		[ $rc -eq 0 ]
	check "swap: ... byte for byte" cmp -s "src/$SINGLE" "dl-swapd/$SINGLE"
	check "swap: ... with at most 2 connections at a time (ss saw at most $most)" \
		in_range 1 2 $most
	check "swap: ... and says which peer it let go" \
		grep -q 'of no use either way; its place goes to 127.0.0.1, who' swapd.err
	[ $rc -eq 0 ] || { show "pieces download" swapd.err 10; show "seeder" "$SEED_LOG" 5; }
	stop_pid $SEED_PID
	stop_pid $SC
else
	not_ok "swap: pieces download --max-peers 2 listens on 127.0.0.1:$SD_PORT"
fi
stop_pieces $SD

section "end"
t_done
