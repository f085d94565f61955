#!/bin/sh
# Cross-checks the metainfo code against real tools:
#  - torrents made by mktorrent and transmission-create: `pieces info --json`
#    agrees with python3-libtorrent on info-hash, name, sizes, pieces,
#    private flag, trackers by tier, web seeds and the file list;
#  - `pieces create` gives the same info-hash as mktorrent for the same input
#    and options, and its torrents are read by libtorrent and
#    transmission-show with the same info-hash.
. "$(dirname "$0")/lib.sh"
cd "$T_DIR"
for tool in mktorrent transmission-create transmission-show; do
	command -v $tool >/dev/null || { not_ok "$tool is installed"; t_done; exit 1; }
done
$PY -c 'import libtorrent' || { not_ok "python3-libtorrent is installed"; t_done; exit 1; }

# Payloads: a single file with a short last piece, and a tree with nested
# folders, a 0-byte file, a hidden file, spaces and non-ASCII names, files
# smaller than a block and names that sort differently bytewise and by
# component ("a.txt" vs "a/b").
$PY - <<'PY'
import os, random
rng = random.Random(7)
def put(p, n):
    os.makedirs(os.path.dirname(p) or ".", exist_ok=True)
    with open(p, "wb") as f:
        f.write(rng.randbytes(n))
put("single.bin", 3 * 65536 + 1234)
put("tree/a.txt", 10)
put("tree/a/b", 70000)
put("tree/B/c d.bin", 16384)
put("tree/.hidden", 3)
put("tree/empty", 0)
put("tree/héllo wörld/ünïcode.dat", 100000)
put("tree/deep/x/y/z/leaf", 1)
for i in range(20):
    put("tree/many/f%02d" % i, rng.randrange(0, 5000))
PY

# compare TORRENT LABEL: pieces info --json vs libtorrent, field by field.
compare() {
	"$PIECES" info --json "$1" >p.json 2>p.err || { not_ok "$2: pieces info failed: $(cat p.err)"; return; }
	$PY "$top_srcdir/tests/py/lt_info.py" "$1" >l.json 2>l.err || { not_ok "$2: libtorrent failed: $(cat l.err)"; return; }
	if $PY - p.json l.json <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
l = json.load(open(sys.argv[2]))
bad = []
for k in ("name", "info_hash", "total_size", "piece_size", "piece_count", "private", "web_seeds"):
    if p[k] != l[k]:
        bad.append("%s: pieces %r, libtorrent %r" % (k, p[k], l[k]))
pf = [(f["path"], f["size"]) for f in p["files"]]
lf = [(f["path"], f["size"]) for f in l["files"]]
if pf != lf:
    bad.append("files: pieces %r, libtorrent %r" % (pf, lf))
# libtorrent shuffles URLs inside a tier (BEP 12): compare tiers as sets.
pt = [sorted(t) for t in p["trackers"]]
lt = [sorted(t) for t in l["trackers"]]
if pt != lt:
    bad.append("trackers: pieces %r, libtorrent %r" % (pt, lt))
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
	then ok "$2: pieces info agrees with libtorrent"; else not_ok "$2: pieces info agrees with libtorrent"; fi
}

hash_of() { "$PIECES" info --json "$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["info_hash"])'; }

n=0
for src in single.bin tree; do
	for opts in "-l 15" "-l 16 -p" "-l 18 -s SRC" "-l 20 -a http://127.0.0.1:6969/announce -a udp://127.0.0.1:6969,http://127.0.0.1:7000/announce -w http://127.0.0.1:8000/ -w http://127.0.0.1:8001/"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		mktorrent -d $opts -o mk$n.torrent $src >/dev/null 2>&1 || { not_ok "mktorrent $opts $src"; continue; }
		compare mk$n.torrent "mktorrent $opts $src"
		# shellcheck disable=SC2086
		"$PIECES" create -q $opts -o pc$n.torrent $src || { not_ok "pieces create $opts $src"; continue; }
		check "pieces create $opts $src: same info-hash as mktorrent" test "$(hash_of pc$n.torrent)" = "$(hash_of mk$n.torrent)"
		compare pc$n.torrent "pieces create $opts $src"
		th=$(transmission-show pc$n.torrent 2>/dev/null | sed -n 's/^ *Hash: *//p')
		check "transmission-show reads pieces' torrent ($opts $src) with the same hash" test "$th" = "$(hash_of pc$n.torrent)"
	done
	for opts in "-s 32" "-s 64 -p -c comment -t http://127.0.0.1:6969/announce -t http://127.0.0.1:7000/announce"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		transmission-create $opts -o tc$n.torrent $src >/dev/null 2>&1 || { not_ok "transmission-create $opts $src"; continue; }
		compare tc$n.torrent "transmission-create $opts $src"
	done
done

# The bundled samples, and pieces' automatic piece size, read the same too.
compare "$top_srcdir/sample-torrents/pieces-sample.torrent" "sample single-file"
compare "$top_srcdir/sample-torrents/pieces-sample-multi.torrent" "sample multi-file"
"$PIECES" create -q -o auto.torrent tree
compare auto.torrent "pieces create (automatic piece size)"

t_done
