#!/bin/sh
# The demo behind `tools/run.sh demo`: what pieces does today with the
# bundled sample torrents. Usage: tools/demo.sh PATH/TO/pieces
set -eu
pieces=${1:?usage: demo.sh PATH/TO/pieces}
top=$(cd "$(dirname "$0")/.." && pwd)
samples=$top/sample-torrents
work=$(mktemp -d)

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

# The integration tests' helpers for opentracker and waiting (bounded):
# this cleanup stops what they start, so their process tracking is a no-op.
PY=/usr/bin/python3 T_DIR=$work T_PIDS=""
t_track() { :; }
# shellcheck source=tests/seeders.sh
. "$top/tests/seeders.sh"
hash_of() { "$pieces" info --json "$1" | sed 's/.*"info_hash":"\([0-9a-f]*\)".*/\1/'; }

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
	want=$(hash_of "$samples/$t.torrent")
	got=$(hash_of "$work/$t.torrent")
	if [ "$want" != "$got" ]; then
		echo "MISMATCH for $t: bundled $want, recreated $got" >&2
		exit 1
	fi
	echo "$t: $got (bundled and recreated agree)"
done

multi=$samples/pieces-sample-multi.torrent
hex=$(hash_of "$multi")

echo
echo "==> a local tracker: opentracker on 127.0.0.1:6969, the samples' announce URL"
# It serves only the samples' info-hashes (Debian's build has a whitelist).
# If the port is taken or opentracker is missing or fails, the demo goes on
# with peers given by address.
if ! command -v opentracker >/dev/null; then
	echo "opentracker is not installed: peers will be given by address"
elif port_open 127.0.0.1 6969; then
	echo "127.0.0.1:6969 is taken: peers will be given by address"
elif OT_PORT=6969 && start_opentracker "$(hash_of "$samples/pieces-sample.torrent")" "$hex"; then
	tracker=$OT_PID
	echo "opentracker answers for the samples"
else
	echo "opentracker did not start (see above): peers will be given by address"
	kill "$OT_PID" 2>/dev/null || true
fi

echo
echo "==> a local seeder, and a download from it"
# pieces seeds the bundled data on a free loopback port; a second pieces
# downloads from it and we compare. With the tracker up, the downloader
# learns the seeder's address from it; otherwise it is given with --peer.
port=$(free_port)
cp -r "$samples/data" "$work/seed"
"$pieces" seed -q --bind 127.0.0.1 -p "$port" "$multi" "$work/seed" </dev/null >/dev/null &
seeder=$!
# Wait until the seeder has checked its data and listens (and, with the
# tracker, has announced itself).
wait_for 10 "$seeder" port_open 127.0.0.1 "$port" || { echo "seeder did not start" >&2; exit 1; }
if [ -n "$tracker" ]; then
	ot_wait "$hex" 1 || { echo "the seeder did not announce itself" >&2; exit 1; }
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
