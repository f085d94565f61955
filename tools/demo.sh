#!/bin/sh
# The demo behind `tools/run.sh demo`: what pieces does today with the
# bundled sample torrents. Usage: tools/demo.sh PATH/TO/pieces
set -eu
pieces=${1:?usage: demo.sh PATH/TO/pieces}
top=$(cd "$(dirname "$0")/.." && pwd)
samples=$top/sample-torrents
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

for t in pieces-sample pieces-sample-multi; do
	echo "==> pieces info $t.torrent"
	"$pieces" info "$samples/$t.torrent"
	echo
done

echo "==> round trip: pieces create on the sample payload must give the same info-hash"
for t in pieces-sample pieces-sample-multi; do
	case $t in
	pieces-sample) src=$samples/data/pieces-sample.bin ;;
	*) src=$samples/data/pieces-sample-multi ;;
	esac
	"$pieces" create -q -l 32K -o "$work/$t.torrent" "$src"
	want=$("$pieces" info --json "$samples/$t.torrent" | sed 's/.*"info_hash":"\([0-9a-f]*\)".*/\1/')
	got=$("$pieces" info --json "$work/$t.torrent" | sed 's/.*"info_hash":"\([0-9a-f]*\)".*/\1/')
	if [ "$want" != "$got" ]; then
		echo "MISMATCH for $t: bundled $want, recreated $got" >&2
		exit 1
	fi
	echo "$t: $got (bundled and recreated agree)"
done

echo
# Everything started below is stopped here, whatever way the demo ends.
tracker="" seeder=""
cleanup() {
	fusermount3 -u "$work/mnt" 2>/dev/null || true
	for pid in $seeder $tracker; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
hash_of() { "$pieces" info --json "$1" | sed 's/.*"info_hash":"\([0-9a-f]*\)".*/\1/'; }
multi=$samples/pieces-sample-multi.torrent
hex=$(hash_of "$multi")

echo "==> a local tracker: opentracker on 127.0.0.1:6969, the samples' announce URL"
# Debian's opentracker serves only the info-hashes on its whitelist; run as
# root it chroots into -d before reading it, so the path is relative to
# that. If the port is taken or opentracker is missing, the demo goes on
# with peers given by address.
# tracker_answers HEX [SEEDERS]: opentracker serves HEX (an announce that
# leaves no trace: a stop from a peer that never started), or, given
# SEEDERS, its scrape shows at least that many.
tracker_answers() {
	/usr/bin/python3 - "$1" "${2:-0}" <<-'PY' 2>/dev/null
		import re, sys, urllib.parse, urllib.request
		q = urllib.parse.quote(bytes.fromhex(sys.argv[1]), safe="")
		base = "http://127.0.0.1:6969/"
		if sys.argv[2] == "0":
		    body = urllib.request.urlopen(base + "announce?info_hash=" + q +
		        "&peer_id=-DEMO00-000000000000&port=1&uploaded=0&downloaded=0"
		        "&left=0&compact=1&event=stopped", timeout=1).read()
		    sys.exit(0 if b"interval" in body and b"failure" not in body else 1)
		body = urllib.request.urlopen(base + "scrape?info_hash=" + q, timeout=1).read()
		m = re.search(rb"8:completei(\d+)e", body)
		sys.exit(0 if m and int(m.group(1)) >= int(sys.argv[2]) else 1)
	PY
}
port_taken() { /usr/bin/python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null; }
if ! command -v opentracker >/dev/null; then
	echo "opentracker is not installed: peers will be given by address"
elif port_taken 6969; then
	echo "127.0.0.1:6969 is taken: peers will be given by address"
else
	mkdir -m 755 "$work/ot"
	{ hash_of "$samples/pieces-sample.torrent"; echo "$hex"; } >"$work/ot/whitelist.txt"
	chmod 644 "$work/ot/whitelist.txt"
	if [ "$(id -u)" -eq 0 ]; then wl=/whitelist.txt; else wl=$work/ot/whitelist.txt; fi
	opentracker -i 127.0.0.1 -p 6969 -P 6969 -d "$work/ot" -w "$wl" >"$work/ot.log" 2>&1 &
	tracker=$!
	i=0
	# It reads its whitelist once it listens: until then it refuses every torrent.
	while ! tracker_answers "$hex"; do
		i=$((i + 1))
		if [ $i -ge 100 ] || ! kill -0 "$tracker" 2>/dev/null; then
			echo "opentracker did not start (see below): peers will be given by address"
			cat "$work/ot.log"
			kill "$tracker" 2>/dev/null || true
			tracker=""
			break
		fi
		sleep 0.1
	done
	[ -n "$tracker" ] && echo "opentracker answers for the samples"
fi

echo
echo "==> a local seeder, and a download from it"
# pieces seeds the bundled data on a free loopback port; a second pieces
# downloads from it and we compare. With the tracker up, the downloader
# learns the seeder's address from it; otherwise it is given with --peer.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cp -r "$samples/data" "$work/seed"
"$pieces" seed -q --bind 127.0.0.1 -p "$port" "$multi" "$work/seed" </dev/null >/dev/null &
seeder=$!
# Wait until the seeder has checked its data and listens (and, with the
# tracker, has announced itself).
i=0
while ! port_taken "$port" || { [ -n "$tracker" ] && ! tracker_answers "$hex" 1; }; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "seeder did not start" >&2; exit 1; }
	sleep 0.1
done
if [ -n "$tracker" ]; then
	peer=""
	echo "the tracker lists the seeder; the download finds it there"
else
	peer="--peer 127.0.0.1:$port"
fi
# shellcheck disable=SC2086
timeout 60 "$pieces" download --bind 127.0.0.1 -p 0 $peer -o "$work/down" "$multi"
diff -r "$samples/data/pieces-sample-multi" "$work/down/pieces-sample-multi"
echo "downloaded from the local seeder: identical to the source"

echo
echo "==> mount the torrent: the files show up at once and stream from the seeder"
# The mount fetches what is read first (here: a whole file, read like a
# player would, from the start), keeps it in a cache folder, and seeds it.
mkdir -p "$work/mnt"
# shellcheck disable=SC2086
"$pieces" mount -q --bind 127.0.0.1 -p 0 --cache "$work/cache" $peer "$multi" "$work/mnt"
ls -lR "$work/mnt"
timeout 60 cmp "$work/mnt/pieces-sample-multi/video/clip.bin" "$samples/data/pieces-sample-multi/video/clip.bin"
echo "video/clip.bin streamed through the mount: identical to the source"
getfattr -d "$work/mnt/pieces-sample-multi" 2>/dev/null || true
fusermount3 -u "$work/mnt"
echo
echo "demo done: the cache in a real mount defaults to \$XDG_CACHE_HOME/pieces/<info-hash>/;"
echo "remounting serves what was fetched at once, without peers."
exit 0
