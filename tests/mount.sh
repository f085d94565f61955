#!/bin/sh
# Integration test of `pieces mount`: real FUSE mounts of torrents served by
# a libtorrent and a Transmission seeder through opentracker, all on
# 127.0.0.1.
#  a. multi-file torrent, fresh cache: ls/stat at once, exact sizes and
#     tree; hundreds of random reads (piece and file boundaries, past EOF)
#     equal the source; sha256 of every file; `cp -r` gives identical files
#     and leaves a complete, verified cache; xattrs, st_blocks, statfs;
#     writes fail with EROFS; a busy mount point and a cache in use are
#     refused; unmount (fusermount3 -u) ends the daemon;
#  b. the default cache ($XDG_CACHE_HOME/pieces/<hash>), two readers on
#     two files at once;
#  c. --on-demand: reading one file fetches that file only (bytes received
#     and verified, per-file xattrs, st_blocks);
#  d. every seeder gone, remount of c's cache: fetched data reads back at
#     once, a read of missing data is interruptible (timeout 3 cat), a
#     reader killed while waiting leaves the mount answering, a lazy
#     unmount with a parked read ends cleanly once the reader is gone, and
#     Ctrl-C on `mount -f` with parked reads answers them and exits 0;
#  e. a stale mount point (daemon killed) gets a clear error;
#  f. a single-file torrent and a torrent with BEP 47 padding files: the
#     root holds the file / the top folder, padding hidden;
#  g. --on-demand: a piece a killed reader had started is finished anyway;
#  h. the cache's disk fills up: the mount stays up, reads of missing data
#     fail with ENOSPC at once, user.pieces.error says so, and with room
#     again the download finishes;
#  i. a mount of a complete cache seeds it whole to a libtorrent leecher
#     that knows no other peer;
#  j. -o options reach the mount (fsname), -o rw still refuses writes, and
#     SIGTERM or SIGHUP unmounts and ends the daemon.
# In CI a FUSE mount that cannot be made is a failure, not a skip.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/seeders.sh"
cd "$T_DIR"

missing=""
for tool in opentracker transmission-cli fusermount3 getfattr cmp; do
	command -v $tool >/dev/null || missing="$missing $tool"
done
$PY -c 'import libtorrent' 2>/dev/null || missing="$missing python3-libtorrent"
[ -c /dev/fuse ] || missing="$missing /dev/fuse"
if [ -n "$missing" ]; then
	not_ok "required tools are installed (missing:$missing)"
	t_done
	exit 1
fi

# Mount points to detach (lazily) before lib.sh kills processes and
# removes T_DIR, even when the test fails half-way.
MOUNTS=""
SMALL=""
m_cleanup() {
	for _m in $MOUNTS; do
		fusermount3 -u -z "$_m" 2>/dev/null || true
	done
	[ -z "$SMALL" ] || umount -l "$SMALL" 2>/dev/null || true
}
trap 'if t_main; then m_cleanup; fi; t_cleanup' EXIT

T_START=$(date +%s)
section() { echo "# $* (at $(($(date +%s) - T_START)) s)"; }

# is_mounted DIR: a FUSE filesystem is mounted on DIR (absolute, no spaces).
is_mounted() { grep -q "^[^ ]* $1 fuse" /proc/mounts; }
not_mounted() { ! is_mounted "$1"; }
gone() { ! alive "$1"; }
both_gone() { ! alive "$1" && ! alive "$2"; }

# do_mount DIR TORRENT [OPTIONS...]: `pieces mount` in the background (the
# default), bounded; on success sets MPID to the daemon's PID.
do_mount() {
	_dm_dir=$1 _dm_t=$2
	shift 2
	mkdir -p "$_dm_dir"
	MOUNTS="$MOUNTS $_dm_dir"
	MPID=""
	if ! timeout 30 "$PIECES" mount -p 0 --bind 127.0.0.1 "$@" "$_dm_t" "$_dm_dir" \
		>"$_dm_dir.out" 2>"$_dm_dir.err"; then
		sed 's/^/#   /' "$_dm_dir.err"
		return 1
	fi
	# The daemon is not our child: find it by its command line (lookup only).
	MPID=$(pgrep -n -f -- " $_dm_t $_dm_dir\$" || true)
	[ -n "$MPID" ] && t_track "$MPID"
	is_mounted "$_dm_dir"
}

# unmount_wait DIR: fusermount3 -u, then the daemon (MPID) must exit within 15 s.
unmount_wait() {
	fusermount3 -u "$1" && wait_for 15 "" gone "$MPID"
}

# guarded SECS COMMAND...: runs COMMAND; if it still runs after SECS, kills
# the mount daemon (MPID), which aborts the FUSE connection, so a reader
# stuck in the kernel gets ENOTCONN instead of hanging the test (timeout(1)
# cannot end a process that waits in the kernel for a reply).
guarded() {
	_g_secs=$1
	shift
	(
		trap 'kill $_g_s 2>/dev/null; exit 0' TERM
		sleep "$_g_secs" &
		_g_s=$!
		wait $_g_s
		echo "# watchdog: still running after $_g_secs s: $*; killing pieces ($MPID)" >&2
		[ -n "$MPID" ] || exit 0
		# What was it doing? (state, kernel wait channel, stack)
		ps -o pid=,stat=,wchan=,etime= -p "$MPID" | sed 's/^/#   /' >&2
		ps -eo pid=,stat=,wchan:32=,args= | grep "$T_DIR" | grep -v grep | sed 's/^/#   /' >&2
		for _g_c in /sys/fs/fuse/connections/*/waiting; do
			[ -r "$_g_c" ] && echo "#   $_g_c: $(cat "$_g_c")" >&2
		done
		if command -v gdb >/dev/null; then
			timeout 20 gdb -p "$MPID" -batch -ex 'thread apply all bt' 2>&1 |
				grep '^#' | head -40 | sed 's/^/#   /' >&2
		fi
		kill -9 "$MPID" 2>/dev/null
	) &
	_g_wd=$!
	_g_rc=0
	"$@" || _g_rc=$?
	kill $_g_wd 2>/dev/null || true
	wait $_g_wd 2>/dev/null || true
	return $_g_rc
}

# xattr FILE NAME: one of pieces' extended attributes, value only.
xattr() { getfattr --absolute-names --only-values -n "user.pieces.$2" "$1" 2>/dev/null; }

# same_tree SRC DST: DST holds exactly SRC's files, byte for byte.
same_tree() {
	timeout 120 $PY - "$1" "$2" <<'PY'
import hashlib, os, sys
src, dst = sys.argv[1:]
def walk(root):
    out = {}
    for d, dirs, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = p
    return out
a, b = walk(src), walk(dst)
bad = ["missing: " + k for k in sorted(set(a) - set(b))]
bad += ["extra: " + k for k in sorted(set(b) - set(a))]
for k in sorted(set(a) & set(b)):
    h = [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in (a[k], b[k])]
    if h[0] != h[1]:
        bad.append("sha256 differs: " + k)
for x in bad:
    print("#   " + x, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# random_reads MNT SRC N SEED: N preads at random offsets and sizes, many
# straddling piece boundaries, near and past EOF; each must return exactly
# the source's bytes, full length except at EOF.
random_reads() {
	timeout 180 $PY - "$@" <<'PY'
import os, random, sys
mnt, src, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
PIECE = 65536
files = []
for d, _, names in os.walk(src):
    for name in names:
        p = os.path.join(d, name)
        files.append((os.path.relpath(p, src), open(p, "rb").read()))
files.sort()
r = random.Random(seed)
bad = 0
for i in range(n):
    rel, data = r.choice(files)
    size = len(data)
    kind = i % 5
    if kind == 0:
        off = r.randrange(0, size + 1)
    elif kind == 1:  # across a piece boundary of the torrent
        off = max(0, (r.randrange(0, size + 1) // PIECE) * PIECE - r.randrange(0, 300))
    elif kind == 2:  # up to the end of the file
        off = max(0, size - r.randrange(0, 70000))
    elif kind == 3:  # past EOF
        off = size + r.randrange(0, 100000)
    else:
        off = r.randrange(0, max(1, size // 2))
    ln = r.choice([1, 511, 4096, 65535, 65536, 65537, 131072, 300000, r.randrange(1, 400000)])
    fd = os.open(os.path.join(mnt, rel), os.O_RDONLY)
    try:
        got = os.pread(fd, ln, off)
    finally:
        os.close(fd)
    want = data[off:off + ln]
    if got != want:
        bad += 1
        if bad <= 5:
            print("#   %s: pread(%d, %d) gave %d bytes, want %d%s" % (
                rel, ln, off, len(got), len(want),
                "" if len(got) != len(want) else " (different bytes)"), file=sys.stderr)
print("#   %d reads, %d wrong" % (n, bad))
sys.exit(1 if bad else 0)
PY
}

# ---- payloads, torrents, tracker, seeders ------------------------------------
$PY - <<'PY'
import os, random
r = random.Random(20261124)
def put(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").write(r.randbytes(size))
K, M = 1024, 1024 * 1024
put("src/payload/big1.bin", 12 * M + 12345)
put("src/payload/dir/big2.bin", 9 * M + 777)
put("src/payload/dir/sub/small.txt", 1000)
put("src/payload/dir/sub/empty", 0)
put("src/payload/mid.bin", 3 * M + 3)
put("src/payload/tail/last.bin", 5 * M + 64 * K + 1)
put("src/single/one.bin", 2 * M + 99)
put("src/bigpiece/bp.bin", 4 * M)  # section g: a torrent of one 4 MiB piece
PY
OT_PORT=$(free_port)
ANN=http://127.0.0.1:$OT_PORT/announce
"$PIECES" create -q -l 64K -a "$ANN" -s mount-test -o multi.torrent src/payload &&
	"$PIECES" create -q -l 64K -a "$ANN" -s mount-test -o single.torrent src/single/one.bin ||
	{ not_ok "pieces create"; t_done; exit 1; }
info_field() { "$PIECES" info --json "$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
HASH=$(info_field multi.torrent info_hash)
HASH1=$(info_field single.torrent info_hash)
TOTAL=$(info_field multi.torrent total_size)

# A torrent with BEP 47 padding files, written by hand (pieces create makes none).
$PY - <<'PY'
import hashlib, os
def benc(x):
    if isinstance(x, int): return b"i%de" % x
    if isinstance(x, str): x = x.encode()
    if isinstance(x, bytes): return b"%d:%s" % (len(x), x)
    if isinstance(x, list): return b"l" + b"".join(benc(v) for v in x) + b"e"
    return b"d" + b"".join(benc(k) + benc(x[k]) for k in sorted(x)) + b"e"
P = 65536
a, b = os.urandom(100000), os.urandom(70000)
os.makedirs("src/padded", exist_ok=True)
open("src/padded/a.bin", "wb").write(a)
open("src/padded/b.bin", "wb").write(b)
pad = 2 * P - len(a)
stream = a + bytes(pad) + b
pieces = b"".join(hashlib.sha1(stream[i:i + P]).digest() for i in range(0, len(stream), P))
info = {"name": "padded", "piece length": P, "pieces": pieces, "files": [
    {"length": len(a), "path": ["a.bin"]},
    {"length": pad, "path": [".pad", str(pad)], "attr": "p"},
    {"length": len(b), "path": ["b.bin"]}]}
open("padded.torrent", "wb").write(benc({"info": info}))
PY

if start_opentracker "$HASH" "$HASH1"; then ok "opentracker runs on 127.0.0.1:$OT_PORT"; else
	not_ok "opentracker runs"
	t_done
	exit 1
fi
mkdir seed-lt seed-tr
cp -R src/payload src/single/one.bin seed-lt/
cp -R src/payload seed-tr/
LT_OK=0 TR_OK=0
if start_lt_seed multi.torrent seed-lt; then LT_PID=$SEED_PID LT_OK=1; fi
check "libtorrent seeds the multi-file torrent" [ $LT_OK -eq 1 ]
TR_PORT=$(free_port)
if start_tr_seed multi.torrent seed-tr "$TR_PORT"; then TR_PID=$SEED_PID TR_OK=1; fi
check "transmission seeds the multi-file torrent" [ $TR_OK -eq 1 ]
PEER_TR="--peer 127.0.0.1:$TR_PORT"
LT1_OK=0
if start_lt_seed single.torrent seed-lt; then LT1_PID=$SEED_PID LT1_PORT=$SEED_PORT LT1_OK=1; fi
LTP_OK=0
if start_lt_seed padded.torrent src; then LTP_PID=$SEED_PID LTP_PORT=$SEED_PORT LTP_OK=1; fi
ot_wait "$HASH" 1 || true

# ---- a: fresh cache, seeders up ---------------------------------------------------
section "a: mount with a fresh cache"
A=$T_DIR/mnt-a
# A download limit, so that the random reads below find data missing and park.
if do_mount "$A" "$T_DIR/multi.torrent" --cache "$T_DIR/cache-a" --max-down 6M -v $PEER_TR; then
	ok "pieces mount returns once mounted (background, pid $MPID)"
else
	not_ok "pieces mount of the multi-file torrent"
	t_done
	exit 1
fi
APID=$MPID
# Metadata straight away, whatever the data: the tree, exact sizes, the date.
check "ls of the root shows the torrent's folder only" \
	[ "$(timeout 5 ls "$A")" = payload ]
check "the tree matches the source (find, exact sizes)" sh -c "
	cd '$T_DIR/src' && find payload -type d -printf 'd %p\n' -o -printf '%y %s %p\n' |
		sort >'$T_DIR/tree.want' &&
	cd '$A' && timeout 5 find payload -type d -printf 'd %p\n' -o -printf '%y %s %p\n' |
		sort >'$T_DIR/tree.got' &&
	cmp -s '$T_DIR/tree.want' '$T_DIR/tree.got' ||
	{ diff '$T_DIR/tree.want' '$T_DIR/tree.got' | sed 's/^/#   /'; false; }"
check "directories are read-only dr-xr-xr-x, files -r--r--r--" sh -c "
	[ \"\$(stat -c %A '$A/payload/dir')\" = dr-xr-xr-x ] &&
	[ \"\$(stat -c %A '$A/payload/mid.bin')\" = -r--r--r-- ]"
CDATE=$(info_field multi.torrent creation_date)
check "mtime is the torrent's creation date" [ "$(stat -c %Y "$A/payload/big1.bin")" = "$CDATE" ]
check "inode numbers are stable (stat twice)" sh -c "
	[ \"\$(stat -c %i '$A/payload/dir/big2.bin')\" = \"\$(stat -c %i '$A/payload/dir/big2.bin')\" ]"
check "statfs reports the torrent's size" sh -c "
	[ \$(stat -f -c %b '$A') -eq \$(( ($TOTAL + 4095) / 4096 )) ]"
check "opening for writing fails with EROFS" sh -c "
	! (: >>'$A/payload/mid.bin') 2>'$T_DIR/erofs.err' && grep -q 'Read-only' '$T_DIR/erofs.err'"
check "the root's infohash xattr" [ "$(xattr "$A" infohash)" = "$HASH" ]

if guarded 150 random_reads "$A/payload" src/payload 400 7; then
	ok "400 random reads (piece/file boundaries, EOF, past EOF) return the source bytes"
else
	not_ok "400 random reads return the source bytes"
fi
check "... some of which were parked until their pieces arrived" grep -q "parked on piece" cache-a/log
check "sha256 of every file read through the mount equals the source" \
	guarded 120 same_tree src/payload "$A/payload"
mkdir out-a
check "cp -r from the mount succeeds" guarded 120 cp -r "$A/payload" out-a/
check "... and gives identical files" same_tree src/payload out-a/payload
check "the root's progress xattr says 100.0%" [ "$(xattr "$A" progress)" = "100.0%" ]
check "user.pieces.verified of a file is its size" \
	[ "$(xattr "$A/payload/dir/big2.bin" verified)" = $((9 * 1048576 + 777)) ]
check "getfattr -d lists progress, verified, infohash, peers" sh -c "
	getfattr --absolute-names -d '$A/payload/mid.bin' >'$T_DIR/getfattr.out' &&
	for n in progress verified infohash peers; do grep -q \"^user.pieces.\$n=\" '$T_DIR/getfattr.out' || exit 1; done"
sleep 1.2 # the kernel caches attributes for 1 s
check "st_blocks counts every verified byte" sh -c "
	[ \$(stat -c %b '$A/payload/big1.bin') -eq \$(( (12 * 1048576 + 12345 + 511) / 512 )) ]"
# Refusals: the same cache twice, a busy mount point.
mkdir -p mnt-a2
if timeout 20 "$PIECES" mount -p 0 --cache "$T_DIR/cache-a" multi.torrent mnt-a2 2>a2.err; then
	not_ok "a second mount of a cache in use is refused"
	MOUNTS="$MOUNTS $T_DIR/mnt-a2"
else
	check "a second mount of a cache in use is refused" grep -q "in use" a2.err
fi
if timeout 20 "$PIECES" mount -p 0 --cache "$T_DIR/cache-x" multi.torrent "$A" 2>busy.err; then
	not_ok "mounting on a busy mount point is refused"
else
	check "mounting on a busy mount point is refused" grep -q "busy" busy.err
fi
if unmount_wait "$A"; then ok "fusermount3 -u unmounts and the daemon exits"; else
	not_ok "fusermount3 -u unmounts and the daemon exits"
fi
check "the cache is complete and verified (data = source)" same_tree src/payload cache-a/data/payload
check "the cache holds the resume file and a copy of the torrent" \
	sh -c "[ -s cache-a/resume ] && cmp -s cache-a/torrent multi.torrent"

# ---- b: default cache, two readers at once ---------------------------------------
section "b: two readers, default cache location"
B=$T_DIR/mnt-b
mkdir xdg
if XDG_CACHE_HOME=$T_DIR/xdg do_mount "$B" "$T_DIR/multi.torrent" $PEER_TR; then
	ok "mount with the default cache"
	timeout 90 cat "$B/payload/big1.bin" >two-1 &
	R1=$!
	timeout 90 cat "$B/payload/dir/big2.bin" >two-2 &
	R2=$!
	# Poll rather than `wait` under a watchdog: dash's wait for one job can
	# miss its end while another background job (the watchdog) runs.
	if wait_for 90 "" both_gone $R1 $R2; then
		ok "two readers on two files at once both finish"
	else
		not_ok "two readers on two files at once both finish"
		kill -9 "$MPID" 2>/dev/null || true
	fi
	rc1=0 rc2=0
	wait $R1 || rc1=$?
	wait $R2 || rc2=$?
	check "... successfully" [ $((rc1 + rc2)) -eq 0 ]
	check "... with the right bytes" sh -c "
		cmp -s two-1 src/payload/big1.bin && cmp -s two-2 src/payload/dir/big2.bin"
	check "the cache is \$XDG_CACHE_HOME/pieces/<info-hash>" \
		sh -c "[ -d xdg/pieces/$HASH/data/payload ] && [ -f xdg/pieces/$HASH/torrent ]"
	check "unmount ends the daemon" unmount_wait "$B"
else
	not_ok "mount with the default cache"
fi

# ---- c: --on-demand ----------------------------------------------------------------
section "c: --on-demand"
C=$T_DIR/mnt-c
MID=$((3 * 1048576 + 3))
if do_mount "$C" "$T_DIR/multi.torrent" --cache "$T_DIR/cache-c" --on-demand $PEER_TR; then
	ok "mount --on-demand"
	check "reading one file gives its bytes" guarded 60 cmp "$C/payload/mid.bin" src/payload/mid.bin
	sleep 2
	down=$(xattr "$C" downloaded || echo 999999999)
	ver=$(xattr "$C" verified || echo 999999999)
	echo "#   received $down bytes, verified $ver, for a file of $MID bytes"
	check "only that file was downloaded (bytes received < file + 1 MiB)" \
		[ "${down:-999999999}" -lt $((MID + 1048576)) ]
	check "only that file was verified (+ at most 2 boundary pieces)" \
		[ "${ver:-999999999}" -lt $((MID + 2 * 65536 + 1)) ]
	others=0
	for f in big1.bin dir/big2.bin tail/last.bin; do
		others=$((others + $(xattr "$C/payload/$f" verified || echo 999999999)))
	done
	check "the other big files hold (almost) nothing: $others bytes" [ $others -le $((2 * 65536)) ]
	sleep 1.2
	check "the file read reports 100.0% and full st_blocks" sh -c "
		[ \"\$(getfattr --absolute-names --only-values -n user.pieces.progress '$C/payload/mid.bin')\" = 100.0% ] &&
		[ \$(stat -c %b '$C/payload/mid.bin') -eq $(((MID + 511) / 512)) ]"
	check "a file far from it has st_blocks 0" [ "$(stat -c %b "$C/payload/big1.bin")" -eq 0 ]
	check "the root's progress is partial" sh -c "
		p=\$(getfattr --absolute-names --only-values -n user.pieces.progress '$C'); [ \"\$p\" != 100.0% ] && [ \"\$p\" != 0.0% ]"
	check "unmount ends the daemon" unmount_wait "$C"
else
	not_ok "mount --on-demand"
fi

# ---- d: every seeder gone ---------------------------------------------------------
section "d: remount with every seeder gone"
[ $LT_OK -eq 1 ] && stop_pid "$LT_PID"
[ $TR_OK -eq 1 ] && stop_pid "$TR_PID"
if do_mount "$C" "$T_DIR/multi.torrent" --cache "$T_DIR/cache-c"; then
	ok "remount of the on-demand cache"
	check "fetched data reads back at once, offline" guarded 10 cmp "$C/payload/mid.bin" src/payload/mid.bin
	t0=$(date +%s)
	rc=0
	guarded 20 timeout 3 cat "$C/payload/big1.bin" >/dev/null 2>&1 || rc=$?
	t1=$(date +%s)
	check "a read of missing data is interruptible (timeout 3 cat: status $rc in $((t1 - t0)) s)" \
		[ $rc -ne 0 -a $((t1 - t0)) -le 6 ]
	check "... and the mount still answers" guarded 20 sh -c "
		timeout 5 ls '$C/payload' >/dev/null && timeout 10 cmp '$C/payload/mid.bin' src/payload/mid.bin"
	# A signal that does not kill (SIGALRM with a handler): the parked read
	# itself must end with EINTR, through FUSE's INTERRUPT.
	check "a parked read is interrupted by a caught signal (EINTR)" guarded 20 $PY -c '
import os, signal, sys, time
class Alarm(Exception):
    pass
def ring(*_):
    raise Alarm()
signal.signal(signal.SIGALRM, ring)
fd = os.open(sys.argv[1], os.O_RDONLY)
signal.setitimer(signal.ITIMER_REAL, 1.0)
t = time.time()
try:
    os.pread(fd, 65536, 1 << 20)
    sys.exit("#   the read returned data nobody has")
except Alarm:
    print("#   interrupted after %.2f s" % (time.time() - t))
    sys.exit(0 if time.time() - t < 3 else 1)' "$C/payload/dir/big2.bin"
	cat "$C/payload/dir/big2.bin" >/dev/null 2>&1 &
	RP=$!
	sleep 1
	kill -9 $RP 2>/dev/null || true
	check "a reader killed with SIGKILL while waiting goes away" wait_for 5 "" gone $RP
	wait $RP 2>/dev/null || true
	check "... and nothing is wedged (stat, ls, reads of fetched data)" guarded 20 sh -c "
		timeout 5 stat '$C/payload/big1.bin' >/dev/null && timeout 5 ls -R '$C' >/dev/null &&
		timeout 10 cmp '$C/payload/mid.bin' src/payload/mid.bin"
	# Lazy unmount with a read parked: the daemon leaves once the reader is gone.
	cat "$C/payload/tail/last.bin" >/dev/null 2>&1 &
	RP=$!
	sleep 1
	check "a lazy unmount with a parked read succeeds" fusermount3 -u -z "$C"
	kill -9 $RP 2>/dev/null || true
	wait $RP 2>/dev/null || true
	check "... and the daemon exits once the reader is gone" wait_for 15 "" gone "$MPID"
else
	not_ok "remount of the on-demand cache"
fi
# Ctrl-C on `pieces mount -f` while reads are parked: they fail, it exits 0.
mkdir -p "$C"
"$PIECES" mount -f -q -p 0 --bind 127.0.0.1 --cache "$T_DIR/cache-c" "$T_DIR/multi.torrent" "$C" \
	>fg.out 2>fg.err &
FPID=$!
t_track $FPID
MOUNTS="$MOUNTS $C"
if wait_for 15 $FPID is_mounted "$C"; then
	ok "pieces mount -f mounts"
	cat "$C/payload/big1.bin" >/dev/null 2>parked1.err &
	RP1=$!
	timeout 30 $PY -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.pread(fd, 65536, 4 << 20)' \
		"$C/payload/dir/big2.bin" 2>parked2.err &
	RP2=$!
	sleep 1
	kill -INT $FPID
	check "Ctrl-C answers the parked reads (the readers end)" wait_for 10 "" both_gone $RP1 $RP2
	rc=0
	wait $RP1 || rc=$?
	check "... with an error (EIO), not data" [ $rc -ne 0 ]
	wait $RP2 2>/dev/null || true
	check "... and the daemon unmounts and exits" wait_for 15 "" gone $FPID
	rc=0
	wait $FPID || rc=$?
	check "... with status 0" [ $rc -eq 0 ]
	check "... leaving no mount behind" not_mounted "$C"
else
	not_ok "pieces mount -f mounts"
	sed 's/^/#   /' fg.err
fi

# ---- e: a stale mount point ---------------------------------------------------
section "e: stale mount point"
if do_mount "$C" "$T_DIR/multi.torrent" --cache "$T_DIR/cache-c"; then
	kill -9 "$MPID"
	wait_for 5 "" gone "$MPID" || true
	rc=0
	timeout 20 "$PIECES" mount -p 0 --cache "$T_DIR/cache-c" multi.torrent "$C" 2>stale.err || rc=$?
	check "mounting on a stale mount point fails" [ $rc -ne 0 ]
	check "... saying it is stale and how to fix it" sh -c "grep -q stale stale.err && grep -q 'fusermount3 -u' stale.err"
	fusermount3 -u "$C" 2>/dev/null || fusermount3 -u -z "$C" 2>/dev/null || true
	check "after fusermount3 -u it mounts again" do_mount "$C" "$T_DIR/multi.torrent" --cache "$T_DIR/cache-c"
	unmount_wait "$C" || true
else
	not_ok "mount for the stale test"
fi

# ---- f: single-file and padded torrents ---------------------------------------
section "f: single-file torrent, padding files"
S=$T_DIR/mnt-s
if [ $LT1_OK -eq 1 ] && do_mount "$S" "$T_DIR/single.torrent" --cache "$T_DIR/cache-s"; then
	check "a single-file torrent's root holds the file" [ "$(timeout 5 ls "$S")" = one.bin ]
	check "... with the source's bytes" guarded 60 cmp "$S/one.bin" src/single/one.bin
	check "the file's progress xattr" [ "$(xattr "$S/one.bin" progress)" = "100.0%" ]
	unmount_wait "$S" || true
else
	not_ok "mount of a single-file torrent"
fi
P=$T_DIR/mnt-p
if [ $LTP_OK -eq 1 ] && do_mount "$P" "$T_DIR/padded.torrent" --cache "$T_DIR/cache-p" --peer "127.0.0.1:$LTP_PORT"; then
	check "padding files are hidden" [ "$(timeout 5 ls -A "$P/padded" | tr '\n' ' ')" = "a.bin b.bin " ]
	check "... and the files read right" guarded 60 sh -c "
		timeout 60 cmp '$P/padded/a.bin' src/padded/a.bin && timeout 60 cmp '$P/padded/b.bin' src/padded/b.bin"
	check "the root's progress counts no padding" [ "$(xattr "$P" verified)" = 170000 ]
	unmount_wait "$P" || true
else
	not_ok "mount of a torrent with padding files"
fi

# ---- g: --on-demand finishes a piece a reader gave up on ---------------------
# One 4 MiB piece, fetched at 1 MB/s: a read blocked on it has only part of it
# requested (the request queue follows the rate) when the reader is killed.
# The piece falls back to priority 0; it must still be finished, not left
# half received in a buffer for good.
section "g: --on-demand, a piece whose reader went away"
G=$T_DIR/mnt-g
LTG_OK=0
if "$PIECES" create -q -l 4M -o bigpiece.torrent src/bigpiece/bp.bin &&
	start_lt_seed bigpiece.torrent src/bigpiece; then LTG_PID=$SEED_PID LTG_PORT=$SEED_PORT LTG_OK=1; fi
check "libtorrent seeds a torrent with one 4 MiB piece" [ $LTG_OK -eq 1 ]
if [ $LTG_OK -eq 1 ] && do_mount "$G" "$T_DIR/bigpiece.torrent" --cache "$T_DIR/cache-g" --on-demand \
	--max-down 1M --peer "127.0.0.1:$LTG_PORT"; then
	cat "$G/bp.bin" >/dev/null 2>&1 &
	RP=$!
	t_track $RP
	check "the read starts the piece" wait_for 20 "" sh -c "
		[ \$(getfattr --absolute-names --only-values -n user.pieces.downloaded '$G') -gt 0 ]"
	kill -9 $RP 2>/dev/null || true
	wait $RP 2>/dev/null || true
	echo "#   received $(xattr "$G" downloaded) bytes when the reader was killed"
	check "the piece is finished all the same" wait_for 30 "" sh -c "
		[ \$(getfattr --absolute-names --only-values -n user.pieces.verified '$G') -eq $((4 << 20)) ]"
	check "... and reads back" guarded 20 cmp "$G/bp.bin" src/bigpiece/bp.bin
	unmount_wait "$G" || true
else
	not_ok "mount of the one-piece torrent --on-demand"
fi
[ $LTG_OK -eq 1 ] && stop_pid "$LTG_PID"

# ---- h: the cache's disk fills up ------------------------------------------------
# The cache on a 1 MiB tmpfs, the torrent 2 MiB: writes fail with ENOSPC.
# The mount must stay up, reads of missing data must fail at once with that
# error rather than hang, and once the tmpfs is made larger the download
# must go on by itself and finish.
section "h: the cache's disk fills up"
H=$T_DIR/mnt-h
mkdir -p "$T_DIR/small"
if [ $LT1_OK -eq 1 ] && mount -t tmpfs -o size=1m tmpfs "$T_DIR/small"; then
	SMALL=$T_DIR/small
	if do_mount "$H" "$T_DIR/single.torrent" --cache "$SMALL/cache"; then
		check "a read of missing data fails with ENOSPC, at once" wait_for 30 "$MPID" sh -c "
			timeout 10 cat '$H/one.bin' >/dev/null 2>'$T_DIR/h.err'
			[ \$? -ne 124 ] && grep -q 'No space left on device' '$T_DIR/h.err'"
		sed 's/^/#   /' "$T_DIR/h.err"
		check "user.pieces.error says why" [ "$(xattr "$H/one.bin" error)" = "No space left on device" ]
		check "... and getfattr -d lists it" sh -c "
			getfattr --absolute-names -d '$H' 2>/dev/null | grep -q '^user.pieces.error='"
		check "the mount stays up" is_mounted "$H"
		check "... answers" [ "$(timeout 5 ls "$H")" = one.bin ]
		check "... and keeps what it stored" [ "$(xattr "$H" verified || echo 0)" -gt 0 ]
		mount -o remount,size=16m "$SMALL"
		check "with room again, the download goes on and the file reads whole" \
			wait_for 60 "$MPID" guarded 20 sh -c "cmp -s '$H/one.bin' src/single/one.bin 2>/dev/null"
		check "the cache is complete" [ "$(xattr "$H" progress)" = "100.0%" ]
		check "... and user.pieces.error is gone" sh -c "
			! getfattr --absolute-names -d '$H' 2>/dev/null | grep -q '^user.pieces.error='"
		unmount_wait "$H" || true
	else
		not_ok "mount with its cache on a small tmpfs"
	fi
	umount "$SMALL" && SMALL=
else
	not_ok "a 1 MiB tmpfs for the cache (needs root)"
fi

# ---- i: a mount seeds ---------------------------------------------------------
# a's cache is complete. Mounted again on a known port, with every other
# seeder long gone, it must upload the whole torrent to a libtorrent
# leecher that knows no other peer: the leecher gets a copy of the torrent
# without its tracker (same info dictionary, so the same info-hash) and
# only the mount's address.
section "i: the mount seeds what it has"
I=$T_DIR/mnt-i
$PY "$top_srcdir/tests/py/no_trackers.py" multi.torrent notracker.torrent
check "the tracker-less copy has the same info-hash" [ "$(info_field notracker.torrent info_hash)" = "$HASH" ]
I_PORT=$(free_port)
if do_mount "$I" "$T_DIR/multi.torrent" --cache "$T_DIR/cache-a" -p "$I_PORT"; then
	mkdir leech-i
	$PY "$top_srcdir/tests/py/lt_leech.py" --ip 127.0.0.5 --peer "127.0.0.1:$I_PORT" \
		--timeout 60 notracker.torrent leech-i >leech-i.out 2>leech-i.err &
	LEECH_PID=$!
	t_track $LEECH_PID
	LRC=0
	wait $LEECH_PID || LRC=$?
	sed 's/^/#   /' leech-i.out
	[ $LRC -eq 0 ] || tail -5 leech-i.err | sed 's/^/#   /'
	check "a libtorrent leecher gets the whole torrent from the mount alone" [ $LRC -eq 0 ]
	check "... byte for byte" same_tree src/payload leech-i/payload
	unmount_wait "$I" || true
else
	not_ok "mount of a's complete cache on port $I_PORT"
fi

# ---- j: -o options, SIGTERM and SIGHUP ----------------------------------------
section "j: -o options, SIGTERM and SIGHUP"
J=$T_DIR/mnt-j
for sig in TERM HUP; do
	if do_mount "$J" "$T_DIR/multi.torrent" --cache "$T_DIR/cache-a" -o rw -o fsname=pieces-test; then
		check "-o fsname= reaches the kernel's mount table" grep -q "^pieces-test $J fuse" /proc/mounts
		check "-o rw: opening for writing still fails with EROFS" sh -c "
			! (: >>'$J/payload/mid.bin') 2>'$T_DIR/j.err' && grep -q 'Read-only file system' '$T_DIR/j.err'"
		J_LINES=$(wc -l <"$T_DIR/cache-a/log")
		kill -$sig "$MPID"
		check "SIG$sig: the daemon unmounts and exits" wait_for 15 "" gone "$MPID"
		check "SIG$sig: ... leaving nothing mounted" not_mounted "$J"
		check "SIG$sig: ... and says so in its log" sh -c "
			tail -n +$((J_LINES + 1)) '$T_DIR/cache-a/log' | grep -q 'unmounting'"
	else
		not_ok "mount with -o rw -o fsname=pieces-test (SIG$sig)"
	fi
done

# ---- k: a peer far away ------------------------------------------------------
# While a reader waits, each peer's request queue is cut to a quarter second
# of its rate on top of its rate times its round trip (queue_target()); the
# round trip is taken as its quickest answer to a request. Through a proxy
# holding data 150 ms each way no answer comes sooner than 300 ms: the
# estimate the mount logs must be at least that, and the file must read
# back whole. A tracker-less copy of the torrent keeps the mount from
# learning the seeder's own address.
section "k: a peer 300 ms away"
K=$T_DIR/mnt-k
$PY "$top_srcdir/tests/py/no_trackers.py" single.torrent single-nt.torrent
check "the tracker-less single-file torrent has the same info-hash" \
	[ "$(info_field single-nt.torrent info_hash)" = "$HASH1" ]
PROXY_PID=""
if [ $LT1_OK -eq 1 ]; then
	$PY "$top_srcdir/tests/py/delay_proxy.py" 0 "127.0.0.1:$LT1_PORT" 150 >proxy-k.out 2>&1 &
	PROXY_PID=$!
	t_track $PROXY_PID
fi
if [ -n "$PROXY_PID" ] && wait_for 10 $PROXY_PID log_has proxy-k.out '^ready ' &&
	do_mount "$K" "$T_DIR/single-nt.torrent" -v --on-demand --cache "$T_DIR/cache-k" \
		--peer "127.0.0.1:$(sed -n 's/^ready port=//p' proxy-k.out)"; then
	check "the file reads back whole through the 300 ms link" guarded 60 cmp "$K/one.bin" src/single/one.bin
	RTT=$(sed -n 's/.*: round trip at most \([0-9]*\) ms$/\1/p' "$T_DIR/cache-k/log" | tail -n 1)
	echo "#   the mount's estimate of the round trip: ${RTT:-none} ms"
	check "the mount measured the round trip: at least 300 ms" [ "${RTT:-0}" -ge 300 ]
	unmount_wait "$K" || true
else
	not_ok "mount through a proxy 150 ms away each way"
fi
[ -n "$PROXY_PID" ] && stop_pid "$PROXY_PID"

t_done
