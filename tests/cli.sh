#!/bin/sh
# CLI behaviour: help, version, exit statuses, one-line errors, `info`
# (text and JSON) on the bundled samples and on magnets, `create` options.
. "$(dirname "$0")/lib.sh"
S=$top_srcdir/sample-torrents
cd "$T_DIR"

# exits WANT CMD...: the command exits with status WANT.
exits() {
	want=$1
	shift
	set +e
	"$@" >out.txt 2>err.txt
	got=$?
	set -e
	[ "$got" -eq "$want" ] || { echo "  exit $got, wanted $want: $*" >&2; cat err.txt >&2; return 1; }
}
one_line_err() { [ "$(wc -l <err.txt)" -eq 1 ] && grep -q '^pieces: ' err.txt; }

check "--version prints the version" exits 0 "$PIECES" --version
check "--version output" grep -q '^pieces [0-9]' out.txt
check "--help exits 0" exits 0 "$PIECES" --help
check "--help lists commands" grep -q 'create' out.txt
check "info --help" exits 0 "$PIECES" info --help
check "create --help" exits 0 "$PIECES" create --help
check "no arguments is a usage error" exits 2 "$PIECES"
check "unknown command is a usage error" exits 2 "$PIECES" frobnicate
check "unknown command: one-line message" one_line_err
check "unknown option is a usage error" exits 2 "$PIECES" info --bogus x
check "missing file fails" exits 1 "$PIECES" info /nonexistent.torrent
check "missing file: one-line message" one_line_err
check "missing file: says why" grep -q 'No such file' err.txt
: >empty.torrent
check "empty file fails" exits 1 "$PIECES" info empty.torrent
check "empty file: one-line message" one_line_err

check "info on the single-file sample" exits 0 "$PIECES" info "$S/pieces-sample.torrent"
check "info shows the name" grep -q '^Name: pieces-sample.bin$' out.txt
check "info shows the size" grep -q '^Size: 1.50 MiB (1573641 bytes)$' out.txt
check "info shows pieces" grep -q '^Pieces: 49 x 32.00 KiB$' out.txt
check "info shows the tracker" grep -q 'http://127.0.0.1:6969/announce' out.txt

# info_matches TORRENT: `pieces info` prints, line for line, what
# tests/py/info_expect.py works out from the file with btkit's decoder:
# name, info-hash, size, pieces, private flag, date, tool, comment, source,
# trackers by tier, web seeds, files with sizes (differences as comments).
info_matches() {
	$PY "$top_srcdir/tests/py/info_expect.py" "$1" >want.txt || return 1
	"$PIECES" info "$1" >got.txt || return 1
	diff -u want.txt got.txt >diff.txt && return 0
	sed 's/^/#   /' diff.txt
	return 1
}
check "info text, single-file sample: every line as the torrent says" info_matches "$S/pieces-sample.torrent"
check "info text, multi-file sample: every line as the torrent says" info_matches "$S/pieces-sample-multi.torrent"
# The same facts spelled out, so that the checker above cannot be wrong alike.
"$PIECES" info "$S/pieces-sample-multi.torrent" >multi.txt
check "info multi: the info-hash" grep -q '^Info-hash: 7730c632c25680b961f4505925390645389c5878$' multi.txt
check "info multi: the size" grep -q '^Size: 1.29 MiB (1356085 bytes)$' multi.txt
check "info multi: comment and tool" \
	sh -c "grep -q '^Comment: pieces sample (multi-file)$' multi.txt && grep -q '^Created by: pieces [0-9]' multi.txt"
check "info multi: no creation date (made with create -d)" sh -c "! grep -q '^Created on' multi.txt"
check "info multi: one tier, one tracker" \
	sh -c "sed -n '/^Trackers:\$/,/^\$/p' multi.txt | tr '\n' '|' | grep -qx 'Trackers:|  Tier 1:|    http://127.0.0.1:6969/announce||'"
check "info multi: 6 files, 0-byte one included, in path order, with sizes" \
	sh -c "sed -n '/^Files (6):\$/,\$p' multi.txt | tr '\n' '|' | grep -qx 'Files (6):|  pieces-sample-multi/README.txt (64 B)|  pieces-sample-multi/audio/track01.bin (300.00 KiB)|  pieces-sample-multi/audio/track02.bin (17 B)|  pieces-sample-multi/empty.txt (0 B)|  pieces-sample-multi/tiny.txt (100 B)|  pieces-sample-multi/video/clip.bin (1.00 MiB)|'"
"$PIECES" info "$S/pieces-sample.torrent" >single.txt
check "info single: the info-hash" grep -q '^Info-hash: b619203d230aaaa18e2eb86752f30518a6f7c0f7$' single.txt
check "info single: one file, the name itself" \
	sh -c "sed -n '/^Files/,\$p' single.txt | tr '\n' '|' | grep -qx 'Files (1):|  pieces-sample.bin (1.50 MiB)|'"
check "info: no web seeds section when there are none" sh -c "! grep -q 'Web seeds' single.txt multi.txt"
# The fields the samples lack: a date, private, source, two tiers (one with
# a backup URL), two web seeds; and a torrent with no tracker at all.
mkdir -p infopl/sub
head -c 100000 /dev/urandom >infopl/sub/a.bin
: >infopl/e.txt
SOURCE_DATE_EPOCH=1700000000 "$PIECES" create -q -p -l 16K -a http://127.0.0.1:1/announce,udp://127.0.0.1:2 \
	-a http://127.0.0.1:3/a -w http://127.0.0.1:4/ -w http://127.0.0.1:5/w -c "a comment" -s SRC \
	-o full.torrent infopl
check "info text, every optional field set: every line as the torrent says" info_matches full.torrent
check "info full: creation date in UTC" grep -q '^Created on: 2023-11-14 22:13:20 UTC$' got.txt
check "info full: private, source" sh -c "grep -q '^Private: yes$' got.txt && grep -q '^Source: SRC$' got.txt"
check "info full: two tiers, the first with its backup URL" \
	sh -c "sed -n '/^Trackers:\$/,/^\$/p' got.txt | tr '\n' '|' | grep -qx 'Trackers:|  Tier 1:|    http://127.0.0.1:1/announce|    udp://127.0.0.1:2|  Tier 2:|    http://127.0.0.1:3/a||'"
check "info full: the web seeds" \
	sh -c "sed -n '/^Web seeds:\$/,/^\$/p' got.txt | tr '\n' '|' | grep -qx 'Web seeds:|  http://127.0.0.1:4/|  http://127.0.0.1:5/w||'"
"$PIECES" create -q -d -o bare.torrent infopl/sub/a.bin
check "info text, no tracker, no date, no comment: every line as the torrent says" info_matches bare.torrent
check "info bare: says there is no tracker" grep -q '^Trackers: none$' got.txt

check "info --json on the multi-file sample" exits 0 "$PIECES" info --json "$S/pieces-sample-multi.torrent"
cp out.txt multi.json
check "json parses" $PY -c 'import json,sys; json.load(open("multi.json"))'
check "json: name" test "$(json_field multi.json name)" = pieces-sample-multi
check "json: 6 files" $PY -c 'import json; d=json.load(open("multi.json")); assert len(d["files"])==6, d["files"]'
check "json: file paths start with the name" $PY -c 'import json; d=json.load(open("multi.json")); assert all(f["path"].startswith("pieces-sample-multi/") for f in d["files"])'
check "json: total size is the sum of files" $PY -c 'import json; d=json.load(open("multi.json")); assert d["total_size"]==sum(f["size"] for f in d["files"])'

H=c12fe1c06bba254a9dc9f519b335aa7c1367a88a
check "magnet (hex)" exits 0 "$PIECES" info --json "magnet:?xt=urn:btih:$H&dn=Some+Name&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=udp://127.0.0.1:6969"
cp out.txt m1.json
check "magnet: hash" test "$(json_field m1.json info_hash)" = $H
check "magnet: name decoded" test "$(json_field m1.json name)" = "Some Name"
check "magnet: two trackers" $PY -c 'import json; d=json.load(open("m1.json")); assert d["trackers"]==[["http://127.0.0.1:6969/announce"],["udp://127.0.0.1:6969"]], d'
check "magnet (base32) gives the same hash" exits 0 "$PIECES" info --json "magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK"
check "magnet: base32 hash" test "$(json_field out.txt info_hash)" = $H
check "bad magnet fails" exits 1 "$PIECES" info "magnet:?xt=urn:btih:1234"
check "bad magnet: one-line message" one_line_err

mkdir -p payload/sub
head -c 100000 /dev/urandom >payload/sub/a.bin
head -c 5 /dev/urandom >payload/b.txt
check "create a torrent" exits 0 "$PIECES" create -a http://127.0.0.1:1/announce -w http://127.0.0.1:2/ -c hi -p -l 16K payload
check "default output name is NAME.torrent" test -f payload.torrent
check "created torrent reads back" exits 0 "$PIECES" info --json payload.torrent
cp out.txt p.json
check "created: private" test "$(json_field p.json private)" = true
check "created: piece size" test "$(json_field p.json piece_size)" = 16384
check "created: comment" test "$(json_field p.json comment)" = hi
check "created: web seed" $PY -c 'import json; d=json.load(open("p.json")); assert d["web_seeds"]==["http://127.0.0.1:2/"]'
check "create refuses to overwrite" exits 1 "$PIECES" create payload
check "create refuses: one-line message" one_line_err
check "create --force overwrites" exits 0 "$PIECES" create -f -q payload
check "create -q prints nothing" test ! -s out.txt
check "create -l exponent form" exits 0 "$PIECES" create -q -l 15 -o e.torrent payload
check "exponent 15 is 32 KiB" sh -c "'$PIECES' info --json e.torrent | grep -q '\"piece_size\":32768'"
check "create: bad piece size" exits 2 "$PIECES" create -l 3X payload
check "create: missing path fails" exits 1 "$PIECES" create -o x.torrent /nonexistent
check "create: missing path, one line" one_line_err
mkdir emptydir
check "create: empty directory fails" exits 1 "$PIECES" create -o y.torrent emptydir
check "create: nothing left behind" test ! -e y.torrent
SOURCE_DATE_EPOCH=1700000000 "$PIECES" create -q -o r1.torrent payload
SOURCE_DATE_EPOCH=1700000000 "$PIECES" create -q -o r2.torrent payload
check "SOURCE_DATE_EPOCH makes output reproducible" cmp -s r1.torrent r2.torrent
check "auto piece size for 100 KB is 32 KiB" sh -c "'$PIECES' info --json r1.torrent | grep -q '\"piece_size\":32768'"
"$PIECES" create -q -n other-name -o n.torrent payload
"$PIECES" info --json n.torrent >n.json
check "create -n names the torrent" test "$(json_field n.json name)" = other-name
"$PIECES" create -q -d -o d.torrent payload
"$PIECES" info --json d.torrent >d.json
check "create -d leaves the date out" $PY -c 'import json; assert json.load(open("d.json"))["creation_date"] is None'
check "... which is there otherwise" $PY -c 'import json; assert json.load(open("p.json"))["creation_date"] > 0'

t_done
