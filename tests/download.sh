#!/bin/sh
# Integration test of `pieces download` against real peers on loopback:
#  a. a Transmission, a libtorrent and an aria2 seeder found through
#     opentracker over HTTP, single-file and multi-file torrents;
#  b. the same over UDP (udp:// announce URL);
#  c. three libtorrent peers on 127.0.0.2/3/4 that each hold a different
#     third of an ~8 MiB payload: the download must combine them;
#  d. a seeder killed mid-download while a second one stays: it completes;
#  e. a tracker that answers "failure reason" while a seeder is given with
#     --peer: it completes and reports the tracker's text;
#  f. kill -9 mid-download, then the same command again: it completes and
#     does not download again a piece the resume file had recorded;
#  g. an already complete torrent (with and without resume data): exit 0,
#     everything on disk, nothing downloaded;
#  h. a seeder that answers every request with random bytes, beside an
#     honest one: the file is still exact, the liar banned, the honest not;
#     then a liar that spoils only one block of the pieces it shares with
#     the honest one: the same;
#  i. the download folder's disk fills up: a clear error and exit 1; with
#     room again the same command keeps what was written and finishes;
#  j. an HTTPS tracker (self-signed certificate): refused until
#     CURL_CA_BUNDLE names the certificate, then the download completes;
#  k. Ctrl-C halfway: exit 1, a "stopped" announce, resume data; the same
#     command then completes without fetching again what it had;
#  l. -q prints nothing on success and only the error on failure; without
#     -q and without a terminal, a progress line every 10 s.
# Every download goes into an empty folder under `timeout 60` and every file
# is compared with the source (the 0-byte file included).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/seeders.sh"
cd "$T_DIR"
# Section i mounts a tmpfs in T_DIR: detach it before lib.sh removes T_DIR.
trap 'if t_main; then umount -l "$T_DIR/small" 2>/dev/null || true; fi; t_cleanup' EXIT

missing=""
for tool in opentracker transmission-cli aria2c openssl; do
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
BIG=pieces-big.bin

# Reference copies of the payloads; every seeder gets its own copy.
mkdir src
cp -R "$SAMPLES/$SINGLE" "$SAMPLES/$MULTI" src/
[ -f src/$MULTI/empty.txt ] && [ ! -s src/$MULTI/empty.txt ] ||
	{ not_ok "sample multi-file payload has its 0-byte file"; t_done; exit 1; }
# The big payload (8 MiB + a short last piece, 64 KiB pieces) and three
# partial copies: part K holds the bytes of pieces [K*N/3, (K+1)*N/3) and
# zeros elsewhere, so each check keeps exactly that third.
$PY - <<'PY'
import os, random
size, plen = 8 * 1024 * 1024 + 12345, 65536
data = random.Random(20261124).randbytes(size)
os.makedirs("src", exist_ok=True)
open("src/pieces-big.bin", "wb").write(data)
n = (size + plen - 1) // plen
for k in range(3):
    lo, hi = k * n // 3 * plen, min((k + 1) * n // 3 * plen, size)
    os.makedirs("part%d" % k, exist_ok=True)
    with open("part%d/pieces-big.bin" % k, "wb") as f:
        f.write(bytes(lo) + data[lo:hi] + bytes(size - hi))
    print("part%d: pieces %d-%d of %d" % (k, k * n // 3, (k + 1) * n // 3 - 1, n))
PY

# seed_copy DIR: a fresh copy of the sample payloads in DIR.
seed_copy() {
	mkdir -p "$1"
	cp -R src/$SINGLE src/$MULTI "$1/"
}

info_field() { "$PIECES" info --json "$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }

OT_PORT=$(free_port)
HTTP=http://127.0.0.1:$OT_PORT/announce
UDP=udp://127.0.0.1:$OT_PORT/announce
HASHES=""
# mk NAME PAYLOAD ANNOUNCE [PIECE_SIZE]: NAME.torrent over src/PAYLOAD; the
# source tag makes every torrent's info-hash distinct, so each case has a
# swarm of its own on the shared tracker.
mk() {
	"$PIECES" create -q -d -l "${4:-32K}" -a "$3" -s "test-$1" -o "$1.torrent" "src/$2" ||
		{ echo "# pieces create failed for $1" >&2; exit 1; }
	HASHES="$HASHES $(info_field "$1.torrent" info_hash)"
}
for c in tr lt aria2; do
	mk $c-http-single $SINGLE "$HTTP"
	mk $c-http-multi $MULTI "$HTTP"
	mk $c-udp-single $SINGLE "$UDP"
	mk $c-udp-multi $MULTI "$UDP"
done
mk parts $BIG "$HTTP" 64K
mk dropout $SINGLE "$HTTP"
mk kill9 $SINGLE "$HTTP"
FAIL_PORT=$(free_port)
mk failtrk $MULTI "http://127.0.0.1:$FAIL_PORT/announce"

if start_opentracker $HASHES; then ok "opentracker runs on 127.0.0.1:$OT_PORT"; else
	not_ok "opentracker runs"
	t_done
	exit 1
fi

hash_of() { info_field "$1.torrent" info_hash; }
T_START=$(date +%s)
section() { echo "# $* (at $(($(date +%s) - T_START)) s)"; }

# same_data SRC DST: DST has exactly SRC's files (a tree or one file),
# byte for byte; differences go to stderr.
same_data() {
	$PY - "$1" "$2" <<'PY'
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
    print("#   %s does not exist" % dst, file=sys.stderr); sys.exit(1)
a, b = files(src), files(dst)
bad = ["missing: %s" % k for k in sorted(set(a) - set(b))]
bad += ["extra: %s" % k for k in sorted(set(b) - set(a))]
for k in sorted(set(a) & set(b)):
    if open(a[k], "rb").read() != open(b[k], "rb").read():
        bad.append("differs: %s" % (k or dst))
for x in bad:
    print("#   " + x, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# fetch_start TORRENT OUT [OPTIONS...]: pieces download into OUT (loopback
# only) in the background, bounded by `timeout 60`; stdout in OUT.out,
# stderr in OUT.err. fetch_wait OUT: waits for it, exit status in RC.
# fetch TORRENT OUT [OPTIONS...]: both.
fetch_start() {
	_f_t=$1 _f_o=$2
	shift 2
	mkdir -p "$_f_o"
	timeout 60 "$PIECES" download --bind 127.0.0.1 -p 0 -o "$_f_o" "$@" "$_f_t" \
		>"$_f_o.out" 2>"$_f_o.err" &
	t_track $!
	echo $! >"$_f_o.pid"
}
fetch_wait() {
	RC=0
	wait "$(cat "$1.pid")" || RC=$?
}
fetch() {
	fetch_start "$@"
	fetch_wait "$2"
}

# show_failure OUT: pieces' output, for the reader of a failed check.
show_failure() {
	echo "#   exit status $RC; stdout:"
	sed 's/^/#     /' "$1.out"
	echo "#   stderr (last 15 lines):"
	tr '\r' '\n' <"$1.err" | tail -15 | sed 's/^/#     /'
}

# summary_has OUT REGEX: the "NAME: complete, ..." line matches.
summary_has() { grep -E -- "$2" "$1.out" >/dev/null; }

# fetch_and_check LABEL TORRENT PAYLOAD OUT [OPTIONS...]: a fresh download
# must exit 0, say it downloaded every piece, and leave the payload intact.
# check_fetched LABEL TORRENT PAYLOAD OUT: the same checks, for a download
# started with fetch_start.
fetch_and_check() {
	_fc_l=$1 _fc_t=$2 _fc_p=$3 _fc_o=$4
	shift 4
	fetch_start "$_fc_t" "$_fc_o" "$@"
	check_fetched "$_fc_l" "$_fc_t" "$_fc_p" "$_fc_o"
}
check_fetched() {
	_fc_l=$1 _fc_t=$2 _fc_p=$3 _fc_o=$4
	fetch_wait "$_fc_o"
	_fc_n=$(info_field "$_fc_t" piece_count)
	if [ $RC -eq 0 ]; then ok "$_fc_l: exits 0"; else
		not_ok "$_fc_l: exits 0"
		show_failure "$_fc_o"
	fi
	if same_data "src/$_fc_p" "$_fc_o/$_fc_p"; then ok "$_fc_l: every file matches the source"; else
		not_ok "$_fc_l: every file matches the source"
	fi
	if summary_has "$_fc_o" ": complete, 100\.0% .*; 0 pieces were on disk, $_fc_n downloaded, 0 failed verification"; then
		ok "$_fc_l: summary: complete, 0 on disk, $_fc_n downloaded"
	else
		not_ok "$_fc_l: summary: complete, 0 on disk, $_fc_n downloaded"
		sed 's/^/#   /' "$_fc_o.out"
	fi
}

# ---- a, b: Transmission, libtorrent, aria2 through opentracker ----------------
section "a, b: Transmission, libtorrent, aria2 via opentracker, HTTP and UDP"
# Per client: one seeder per torrent (transmission-cli and aria2 take one
# torrent each), then the four downloads at once (Transmission unchokes a
# new peer only at its next 10-second choke round).
for c in tr lt aria2; do
	seed_copy seed-$c
	seeders="" started="" ready=""
	for kind in http-single http-multi udp-single udp-multi; do
		t=$c-$kind
		case $c in
		tr) start_tr_seed $t.torrent seed-$c "$(free_port)" ;;
		lt) start_lt_seed $t.torrent seed-$c ;;
		aria2)
			# aria2 has no UDP tracker without DHT: it announces over
			# HTTP to the same opentracker, pieces over UDP.
			case $kind in
			udp*) start_aria2_seed $t.torrent seed-$c "$(free_port)" \
				--bt-exclude-tracker="$UDP" --bt-tracker="$HTTP" ;;
			*) start_aria2_seed $t.torrent seed-$c "$(free_port)" ;;
			esac ;;
		esac || { not_ok "$t: seeder starts"; continue; }
		seeders="$seeders $SEED_PID"
		started="$started $kind"
	done
	for kind in $started; do
		if ot_wait "$(hash_of $c-$kind)" 1; then ready="$ready $kind"; else
			not_ok "$c-$kind: the seeder announced to opentracker"
		fi
	done
	section "$c: seeders ready:$ready"
	for kind in $ready; do
		fetch_start $c-$kind.torrent dl-$c-$kind
	done
	for kind in $ready; do
		case $kind in *single) payload=$SINGLE ;; *) payload=$MULTI ;; esac
		check_fetched $c-$kind $c-$kind.torrent $payload dl-$c-$kind
	done
	for p in $seeders; do stop_pid $p; done
done

# ---- c: three partial seeders on distinct addresses ---------------------------
section "c: three partial seeders"
parts_ok=1
for k in 0 1 2; do
	if ! start_lt_seed parts.torrent part$k 0 127.0.0.$((k + 2)) --partial; then
		parts_ok=0
		break
	fi
	echo "# partial seeder on 127.0.0.$((k + 2)): $(cat "$SEED_LOG")"
done
if [ $parts_ok -eq 1 ] && ot_wait "$(hash_of parts)" 0 3; then
	ok "parts: three partial seeders announced"
	fetch_and_check "parts (3 partial seeders)" parts.torrent $BIG dl-parts -v
	for k in 2 3 4; do
		check "parts: pieces connected to the peer on 127.0.0.$k" \
			grep -q "127\.0\.0\.$k:[0-9]*: connected" dl-parts.err
	done
else
	not_ok "parts: three partial seeders start and announce"
fi

# ---- d: a seeder drops out mid-download ---------------------------------------
section "d: a seeder drops out"
# Two seeders capped at 128 KiB/s each; once a quarter of the pieces are on
# disk the first one is killed (SIGKILL: its connections just drop).
# good_pieces TORRENT DIR: how many pieces of TORRENT are intact in DIR
# (hashed here, whatever pieces' bookkeeping says).
good_pieces() {
	$PY - "$1" "$2" <<'PY'
import hashlib, os, sys
import libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
fs = ti.files()
data = bytearray()
for i in range(fs.num_files()):
    try:
        with open(os.path.join(sys.argv[2], fs.file_path(i)), "rb") as f:
            b = f.read(fs.file_size(i))
    except OSError:
        b = b""
    data += b + bytes(fs.file_size(i) - len(b))
plen = ti.piece_length()
print(sum(hashlib.sha1(data[k * plen:(k + 1) * plen]).digest() == ti.hash_for_piece(k)
          for k in range(ti.num_pieces())))
PY
}
_good_at_least() { [ "$(good_pieces "$1" "$2" 2>/dev/null || echo 0)" -ge "$3" ]; }
seed_copy seed-d1
seed_copy seed-d2
if start_lt_seed dropout.torrent seed-d1 0 127.0.0.2 --upload-limit 131072 && D1=$SEED_PID &&
	start_lt_seed dropout.torrent seed-d2 0 127.0.0.3 --upload-limit 131072 && D2=$SEED_PID &&
	ot_wait "$(hash_of dropout)" 2; then
	mkdir dl-dropout
	RC=0
	timeout 60 "$PIECES" download --bind 127.0.0.1 -p 0 -v -o dl-dropout dropout.torrent \
		>dl-dropout.out 2>dl-dropout.err &
	DL=$!
	t_track $DL
	if wait_for 30 $DL _good_at_least dropout.torrent dl-dropout 12 && alive $DL; then
		kill -9 $D1
		ok "dropout: first seeder killed mid-download ($(good_pieces dropout.torrent dl-dropout) of $(info_field dropout.torrent piece_count) pieces on disk)"
	else
		not_ok "dropout: first seeder killed mid-download (download not running with data on disk)"
	fi
	wait $DL || RC=$?
	check "dropout: pieces had connected to the seeder that left" \
		grep -q "127\.0\.0\.2:[0-9]*: connected" dl-dropout.err
	if [ $RC -eq 0 ]; then ok "dropout: exits 0"; else not_ok "dropout: exits 0"; show_failure dl-dropout; fi
	check "dropout: every file matches the source" same_data src/$SINGLE dl-dropout/$SINGLE
	check "dropout: summary says complete" summary_has dl-dropout ": complete, 100\.0% "
	stop_pid $D1
	stop_pid $D2
else
	not_ok "dropout: two rate-limited seeders start and announce"
fi

# ---- e: a tracker that refuses, a seeder given with --peer ----------------------
section "e: failing tracker"
FAIL_TEXT="pieces test tracker says no"
FAIL_LOG=$T_DIR/fail_tracker.log
$PY "$top_srcdir/tests/py/fail_tracker.py" "$FAIL_TEXT" "$FAIL_PORT" >fail_tracker.out 2>"$FAIL_LOG" &
t_track $!
FT=$!
seed_copy seed-e
if wait_for 10 $FT log_has fail_tracker.out '^ready' &&
	start_lt_seed failtrk.torrent seed-e; then
	fetch_and_check "failing tracker + --peer" failtrk.torrent $MULTI dl-failtrk \
		-v --peer 127.0.0.1:$SEED_PORT
	# (The libtorrent seeder asks it too: its User-Agent says lt_seed/.)
	if grep "GET /announce" "$FAIL_LOG" | grep -q -v "\[lt_seed/"; then
		ok "failing tracker: pieces announced to it"
	else
		not_ok "failing tracker: pieces announced to it"
		sed 's/^/#   /' "$FAIL_LOG"
	fi
	if grep -q "$FAIL_TEXT" dl-failtrk.err; then ok "failing tracker: its failure reason is on stderr"; else
		not_ok "failing tracker: its failure reason is on stderr"
		tr '\r' '\n' <dl-failtrk.err | grep -i -E 'announce|tracker' | head -5 | sed 's/^/#   /'
	fi
	stop_pid $SEED_PID
else
	not_ok "failing tracker and seeder start"
fi
stop_pid $FT

# ---- f: kill -9 mid-download, then resume ------------------------------------
section "f: kill -9 and resume"
# resume_pieces FILE: the piece indexes the resume file's `have` records
# (BEP 3 order: bit 7 of byte 0 is piece 0), space-separated.
resume_pieces() {
	$PY - "$1" <<'PY'
import sys
def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c in (b"l", b"d"):
        i += 1
        out = []
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return (dict(zip(out[::2], out[1::2])) if c == b"d" else out), i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n
try:
    d, _ = bdecode(open(sys.argv[1], "rb").read())
    have = d[b"have"]
except Exception:
    sys.exit(1)
print(" ".join(str(i) for i in range(len(have) * 8) if have[i // 8] & (0x80 >> (i % 8))))
PY
}
_resume_has_pieces() { [ -n "$(resume_pieces "$1" 2>/dev/null)" ]; }
KILL9_N=$(info_field kill9.torrent piece_count)
seed_copy seed-f
if start_lt_seed kill9.torrent seed-f 0 127.0.0.1 --upload-limit 98304 && ot_wait "$(hash_of kill9)" 1; then
	F_SEED=$SEED_PID
	RESUME=dl-kill9/.pieces/$(hash_of kill9).resume
	mkdir dl-kill9
	# No `timeout` in between: $DL must be pieces itself, for kill -9. It
	# is bounded all the same: killed below whatever happens.
	"$PIECES" download --bind 127.0.0.1 -p 0 -o dl-kill9 kill9.torrent \
		>dl-kill9.out1 2>dl-kill9.err1 &
	DL=$!
	t_track $DL
	# pieces saves resume data every 10 s or so; the seeder needs ~16 s.
	if wait_for 40 $DL _resume_has_pieces "$RESUME" && alive $DL; then
		kill -9 $DL
		wait $DL 2>/dev/null || true
		RECORDED=$(resume_pieces "$RESUME" || true)
		NREC=$(echo $RECORDED | wc -w)
		ok "kill9: killed with $NREC of $KILL9_N pieces recorded in the resume file"
		echo "# recorded:" $RECORDED
		fetch kill9.torrent dl-kill9
		if [ $RC -eq 0 ]; then ok "kill9: the second run exits 0"; else
			not_ok "kill9: the second run exits 0"
			show_failure dl-kill9
		fi
		check "kill9: every file matches the source" same_data src/$SINGLE dl-kill9/$SINGLE
		ondisk=$(sed -n 's/.* \([0-9]*\) pieces were on disk, \([0-9]*\) downloaded.*/\1/p' dl-kill9.out)
		got=$(sed -n 's/.* \([0-9]*\) pieces were on disk, \([0-9]*\) downloaded.*/\2/p' dl-kill9.out)
		if [ -n "$ondisk" ] && [ "$ondisk" -ge "$NREC" ]; then
			ok "kill9: pieces found on disk ($ondisk) >= pieces recorded ($NREC)"
		else
			not_ok "kill9: pieces found on disk (${ondisk:-?}) >= pieces recorded ($NREC)"
			sed 's/^/#   /' dl-kill9.out
		fi
		if [ -n "$got" ] && [ "$got" -eq $((KILL9_N - ${ondisk:-0})) ]; then
			ok "kill9: downloaded ($got) = pieces ($KILL9_N) - on disk ($ondisk): nothing fetched twice"
		else
			not_ok "kill9: downloaded (${got:-?}) = pieces ($KILL9_N) - on disk (${ondisk:-?})"
		fi
		# The pieces recorded before the kill are still recorded now.
		after=" $(resume_pieces "$RESUME" || true) "
		lost=""
		for p in $RECORDED; do
			case $after in *" $p "*) ;; *) lost="$lost $p" ;; esac
		done
		check "kill9: the final resume file keeps every piece recorded before${lost:+ (lost:$lost)}" test -z "$lost"
	else
		not_ok "kill9: the resume file records pieces while downloading (none within 40 s, or the download ended first)"
		sed 's/^/#   /' dl-kill9.out1 dl-kill9.err1
		kill -9 $DL 2>/dev/null || true
	fi
	stop_pid $F_SEED
else
	not_ok "kill9: rate-limited seeder starts and announces"
fi

# ---- g: nothing to do ----------------------------------------------------------
section "g: already complete"
# g1: the folder of a finished download (resume data says complete).
# g2: a copy of the payload without resume data (found by checking).
N=$(info_field lt-http-multi.torrent piece_count)
if [ -d dl-lt-http-multi/$MULTI ]; then
	fetch lt-http-multi.torrent dl-lt-http-multi
	if [ $RC -eq 0 ]; then ok "complete (resume data): exits 0"; else not_ok "complete (resume data): exits 0"; show_failure dl-lt-http-multi; fi
	check "complete (resume data): summary: $N pieces were on disk, 0 downloaded" \
		summary_has dl-lt-http-multi ": complete, 100\.0% .*; $N pieces were on disk, 0 downloaded"
	check "complete (resume data): files untouched" same_data src/$MULTI dl-lt-http-multi/$MULTI
else
	not_ok "complete (resume data): the libtorrent multi-file download exists"
fi
mkdir dl-present
cp -R src/$MULTI dl-present/
fetch lt-http-multi.torrent dl-present
if [ $RC -eq 0 ]; then ok "complete (no resume data): exits 0"; else not_ok "complete (no resume data): exits 0"; show_failure dl-present; fi
check "complete (no resume data): summary: $N pieces were on disk, 0 downloaded" \
	summary_has dl-present ": complete, 100\.0% .*; $N pieces were on disk, 0 downloaded"
check "complete (no resume data): files untouched" same_data src/$MULTI dl-present/$MULTI

# ---- h: a seeder that sends bad data -------------------------------------------
section "h: a lying seeder beside an honest one"
# An honest libtorrent seeder on 127.0.0.2 and tests/py/liar_seed.py on
# 127.0.0.3, which claims every piece and answers every request with random
# bytes. The download must still be exact, the liar's address banned (see
# src/blame.h: its trust falls with each failed piece, alone or shared), and
# the honest one never, although it shares failed pieces with the liar.
"$PIECES" create -q -l 64K -o liar.torrent src/$BIG
# start_liar LOG [liar_seed.py OPTIONS...]: a liar on 127.0.0.3 for
# liar.torrent. Sets LIAR_PID, LIAR_PORT; returns 1 if it does not start.
start_liar() {
	_sl_log=$1
	shift
	$PY "$top_srcdir/tests/py/liar_seed.py" --ip 127.0.0.3 --timeout 90 "$@" liar.torrent \
		>"$_sl_log" 2>&1 &
	LIAR_PID=$!
	t_track $LIAR_PID
	wait_for 20 $LIAR_PID grep -q '^ready ' "$_sl_log" || return 1
	LIAR_PORT=$(sed -n 's/^ready port=\([0-9]*\).*/\1/p' "$_sl_log")
}
# fetch_beside_liar LABEL OUT LOG: download liar.torrent from the honest
# seeder and the liar (then stopped); the file must be exact, the liar
# must have sent blocks and be banned once, the honest seeder never.
fetch_beside_liar() {
	_fl_l=$1 _fl_o=$2 _fl_log=$3
	fetch liar.torrent $_fl_o --peer 127.0.0.2:$HONEST_PORT --peer 127.0.0.3:$LIAR_PORT
	if [ $RC -eq 0 ]; then ok "$_fl_l: exits 0"; else not_ok "$_fl_l: exits 0"; show_failure $_fl_o; fi
	check "$_fl_l: the file matches the source" same_data src/$BIG $_fl_o/$BIG
	stop_pid $LIAR_PID
	echo "# $(grep -c 'failed verification' $_fl_o.err) pieces failed verification; $(grep 'banning' $_fl_o.err | head -3 | tr '\n' ' ')liar: $(grep '^served' $_fl_log | head -3 | tr '\n' ' ')"
	check "$_fl_l: it sent blocks" grep -q '^served .* blocks=[1-9]' $_fl_log
	check "$_fl_l: its address is banned, once" [ "$(grep -c 'banning 127\.0\.0\.3' $_fl_o.err)" -eq 1 ]
	check "$_fl_l: the honest seeder is not" sh -c "! grep -q 'banning 127\.0\.0\.2' $_fl_o.err"
}
LIAR_OK=0
if start_lt_seed liar.torrent src 0 127.0.0.2; then
	HONEST_PID=$SEED_PID HONEST_PORT=$SEED_PORT
	start_liar liar.log && LIAR_OK=1
fi
if [ $LIAR_OK -eq 1 ]; then
	fetch_beside_liar liar dl-liar liar.log
	check "liar: the summary counts the failed pieces" summary_has dl-liar ": complete, 100\.0% .*, [1-9][0-9]* failed verification"

	# h2: a subtler liar, beside the same honest seeder. It answers only
	# requests for the second block of a piece, with random bytes, 20 a
	# second: it never sends a whole piece, so every piece it spoils is
	# shared with the honest seeder, and each such piece fails with both
	# to blame. Once one of them verifies with the honest seeder's block,
	# the liar's differs from the good data (blame's proof), or it is
	# banned for having a hand in more failed pieces than the honest one.
	if start_liar liar2.log --only-block 1 --rate 20; then
		fetch_beside_liar "subtle liar" dl-liar2 liar2.log
	else
		not_ok "subtle liar: liar_seed.py --only-block starts"
		cat liar2.log 2>/dev/null | sed 's/^/#   /'
	fi
	stop_pid $HONEST_PID
else
	not_ok "liar: an honest libtorrent seeder and liar_seed.py start"
	cat liar.log 2>/dev/null | sed 's/^/#   /'
fi

# ---- i: the disk fills up --------------------------------------------------------
section "i: the disk fills up"
# The download folder on a 1 MiB tmpfs, the payload 8 MiB: pieces must stop
# with a clear error and exit 1; with room again, the same command must keep
# what was written and finish.
mkdir -p small
if start_lt_seed liar.torrent src 0 127.0.0.2 && mount -t tmpfs -o size=1m tmpfs small; then
	FULL_PID=$SEED_PID
	fetch liar.torrent small/dl --peer 127.0.0.2:$SEED_PORT
	check "full disk: exit status 1" [ $RC -eq 1 ]
	check "full disk: says why" grep -q 'cannot write piece [0-9]*: No space left on device' small/dl.err
	sed 's/^/#   /' small/dl.err | tail -3
	mount -o remount,size=32m small
	fetch liar.torrent small/dl --peer 127.0.0.2:$SEED_PORT
	if [ $RC -eq 0 ]; then ok "full disk: with room, the same command finishes"; else
		not_ok "full disk: with room, the same command finishes"
		show_failure small/dl
	fi
	check "full disk: ... keeping what it had written" summary_has small/dl "; [1-9][0-9]* pieces were on disk"
	check "full disk: ... and the file matches the source" same_data src/$BIG small/dl/$BIG
	umount small
	stop_pid $FULL_PID
else
	not_ok "full disk: a seeder and a 1 MiB tmpfs (needs root)"
	umount small 2>/dev/null || true
fi

# ---- j: an HTTPS tracker ------------------------------------------------------
section "j: an HTTPS tracker"
# tests/py/tls_tracker.py with a self-signed certificate for 127.0.0.1,
# announcing an honest libtorrent seeder. Without being told to trust the
# certificate, pieces must refuse the tracker (and so find no peer); with
# CURL_CA_BUNDLE naming it, as curl(1) takes it, it must download through it.
TLS_OK=0
if openssl req -x509 -newkey rsa:2048 -nodes -keyout tls-key.pem -out tls-cert.pem -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >openssl.log 2>&1 &&
	start_lt_seed liar.torrent src 0 127.0.0.2; then
	TLS_SEED_PID=$SEED_PID
	$PY "$top_srcdir/tests/py/tls_tracker.py" tls-cert.pem tls-key.pem "127.0.0.2:$SEED_PORT" \
		>tls.out 2>tls.err &
	TLS_PID=$!
	t_track $TLS_PID
	if wait_for 20 $TLS_PID grep -q '^ready ' tls.out; then
		TLS_PORT=$(sed -n 's/^ready port=\([0-9]*\).*/\1/p' tls.out)
		"$PIECES" create -q -l 64K -a "https://127.0.0.1:$TLS_PORT/announce" -o https.torrent src/$BIG
		TLS_OK=1
	fi
fi
if [ $TLS_OK -eq 1 ]; then
	check "https: same info-hash as the seeder's torrent" [ "$(hash_of https)" = "$(hash_of liar)" ]
	mkdir dl-https-untrusted
	RC=0
	timeout 8 "$PIECES" download -v --bind 127.0.0.1 -p 0 -o dl-https-untrusted https.torrent \
		>dl-https-untrusted.out 2>dl-https-untrusted.err || RC=$?
	check "https: an untrusted certificate is refused (no download: status $RC)" [ $RC -ne 0 ]
	check "https: ... with the reason" grep -qi 'certificate' dl-https-untrusted.err
	grep -i 'certificate' dl-https-untrusted.err | head -1 | sed 's/^/#   /'
	export CURL_CA_BUNDLE="$T_DIR/tls-cert.pem"
	fetch https.torrent dl-https
	unset CURL_CA_BUNDLE
	if [ $RC -eq 0 ]; then ok "https: with CURL_CA_BUNDLE, the download completes through the tracker"; else
		not_ok "https: with CURL_CA_BUNDLE, the download completes through the tracker"
		show_failure dl-https
	fi
	check "https: ... the file matches the source" same_data src/$BIG dl-https/$BIG
	check "https: ... and the tracker saw pieces announce" grep -q 'GET /announce?.*\[pieces/' tls.err
	# k: Ctrl-C halfway (download capped at 1 MiB/s): exit 1 saying how to
	# resume, a "stopped" announce, resume data; the same command then ends
	# the download and keeps what was fetched.
	section "k: Ctrl-C halfway, then the same command again"
	export CURL_CA_BUNDLE="$T_DIR/tls-cert.pem"
	fetch_start https.torrent dl-int --max-down 1M
	sleep 3
	kill -INT "$(cat dl-int.pid)"
	fetch_wait dl-int
	check "ctrl-c: exit status 1 (status $RC)" [ $RC -eq 1 ]
	check "ctrl-c: says how to resume" grep -q 'interrupted; run the same command again to resume' dl-int.err
	check "ctrl-c: tells the tracker it stopped" grep -q 'GET /announce?.*event=stopped.*\[pieces/' tls.err
	check "ctrl-c: leaves resume data" sh -c 'ls dl-int/.pieces/*.resume >/dev/null 2>&1'
	fetch https.torrent dl-int
	unset CURL_CA_BUNDLE
	if [ $RC -eq 0 ]; then ok "ctrl-c: the same command again completes"; else
		not_ok "ctrl-c: the same command again completes"
		show_failure dl-int
	fi
	check "ctrl-c: ... keeping what it had fetched" summary_has dl-int "; [1-9][0-9]* pieces were on disk"
	check "ctrl-c: ... and the file matches the source" same_data src/$BIG dl-int/$BIG
	stop_pid $TLS_PID
	stop_pid $TLS_SEED_PID
else
	not_ok "https: a self-signed certificate, a libtorrent seeder and tls_tracker.py"
	sed 's/^/#   /' openssl.log tls.out tls.err 2>/dev/null | tail -5
fi

# ---- l: -q, and the progress line without a terminal ---------------------------
section "l: -q, and the progress line without a terminal"
# Four downloads from one libtorrent seeder at once, stderr a file each:
#  - -q: exit 0, not a byte on stdout or stderr, the data intact;
#  - -q, Ctrl-C after 2 s: exit 1, the one error line alone on stderr (no
#    "stopping" notice);
#  - -q with a listen port already taken: exit 1, the one error line alone;
#  - no -q, held to 640 KiB/s (about 13 s for the 8 MiB: the first line is
#    due after 10 s): progress lines "NN.N%  RATE  N peer(s)  ETA M:SS" on
#    stderr, whole lines (no carriage return, no escape sequence), and the
#    summary on stdout.
"$PIECES" create -q -l 64K -s test-quiet -o quiet.torrent src/$BIG
if start_lt_seed quiet.torrent src 0 127.0.0.2; then
	QSEED=$SEED_PID QPEER=127.0.0.2:$SEED_PORT
	fetch_start quiet.torrent dl-progress --max-down 640K --peer $QPEER
	fetch_start quiet.torrent dl-qint -q --max-down 1M --peer $QPEER
	fetch quiet.torrent dl-quiet -q --peer $QPEER
	if [ $RC -eq 0 ]; then ok "-q: exits 0"; else not_ok "-q: exits 0"; show_failure dl-quiet; fi
	check "-q: prints nothing on success" sh -c '[ ! -s dl-quiet.out ] && [ ! -s dl-quiet.err ]'
	sed 's/^/#   /' dl-quiet.out dl-quiet.err
	check "-q: the file matches the source" same_data src/$BIG dl-quiet/$BIG
	# The seeder's own port on its own address: taken.
	fetch quiet.torrent dl-qbusy -q --bind 127.0.0.2 -p "${QPEER#*:}"
	check "-q, listen port taken: exit status 1 (status $RC)" [ $RC -eq 1 ]
	if [ ! -s dl-qbusy.out ] && [ "$(wc -l <dl-qbusy.err)" -eq 1 ] &&
		grep -q '^pieces: cannot listen on 127\.0\.0\.2:[0-9]*: Address already in use$' dl-qbusy.err; then
		ok "-q, listen port taken: the error, one line, and nothing else"
	else
		not_ok "-q, listen port taken: the error, one line, and nothing else"
		show_failure dl-qbusy
	fi
	sleep 2
	kill -INT "$(cat dl-qint.pid)"
	fetch_wait dl-qint
	check "-q, Ctrl-C: exit status 1 (status $RC)" [ $RC -eq 1 ]
	if [ "$(cat dl-qint.err)" = "pieces: interrupted; run the same command again to resume" ]; then
		ok "-q, Ctrl-C: the error alone on stderr"
	else
		not_ok "-q, Ctrl-C: the error alone on stderr"
		show_failure dl-qint
	fi
	fetch_wait dl-progress
	if [ $RC -eq 0 ]; then ok "progress: exits 0"; else not_ok "progress: exits 0"; show_failure dl-progress; fi
	check "progress: the file matches the source" same_data src/$BIG dl-progress/$BIG
	check "progress: the summary on stdout" summary_has dl-progress "^$BIG: complete, 100\.0% "
	sed 's/^/#   /' dl-progress.err
	if grep -E -q '^ *[0-9]{1,2}\.[0-9]%  [0-9.]+ (kB|MB|GB)/s  [0-9]+ peers?  ETA (([0-9]+:)?[0-9]+:[0-9]{2}|--:--)$' dl-progress.err; then
		ok "progress: without a terminal, a progress line under 100%"
	else
		not_ok "progress: without a terminal, a progress line under 100%"
	fi
	check "progress: no carriage return or escape sequence on stderr" \
		sh -c "tr -d '\\r\\033' <dl-progress.err | cmp -s - dl-progress.err"
	stop_pid $QSEED
else
	not_ok "quiet: a libtorrent seeder starts"
fi

t_done
