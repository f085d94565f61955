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
echo "==> a local seeder, and a download from it"
# pieces seeds the bundled data on a free loopback port; a second pieces
# downloads from it (peer given directly, no tracker needed) and we compare.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cp -r "$samples/data" "$work/seed"
"$pieces" seed -q --bind 127.0.0.1 -p "$port" "$samples/pieces-sample-multi.torrent" "$work/seed" </dev/null >/dev/null &
seeder=$!
trap 'kill $seeder 2>/dev/null; wait $seeder 2>/dev/null; rm -rf "$work"' EXIT INT TERM
# Wait until the seeder has checked its data and listens.
i=0
while ! /usr/bin/python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "seeder did not start" >&2; exit 1; }
	sleep 0.1
done
timeout 60 "$pieces" download --bind 127.0.0.1 -p 0 --peer "127.0.0.1:$port" \
	-o "$work/down" "$samples/pieces-sample-multi.torrent"
diff -r "$samples/data/pieces-sample-multi" "$work/down/pieces-sample-multi"
echo "downloaded from the local seeder: identical to the source"

echo
echo "==> mount the torrent: the files show up at once and stream from the seeder"
# The mount fetches what is read first (here: a whole file, read like a
# player would, from the start), keeps it in a cache folder, and seeds it.
mkdir -p "$work/mnt"
"$pieces" mount -q --bind 127.0.0.1 -p 0 --cache "$work/cache" --peer "127.0.0.1:$port" \
	"$samples/pieces-sample-multi.torrent" "$work/mnt"
cleanup() {
	fusermount3 -u "$work/mnt" 2>/dev/null || true
	kill "$seeder" 2>/dev/null || true
	wait "$seeder" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ls -lR "$work/mnt"
timeout 60 cmp "$work/mnt/pieces-sample-multi/video/clip.bin" "$samples/data/pieces-sample-multi/video/clip.bin"
echo "video/clip.bin streamed through the mount: identical to the source"
getfattr -d "$work/mnt/pieces-sample-multi" 2>/dev/null || true
fusermount3 -u "$work/mnt"
echo
echo "demo done: the cache in a real mount defaults to \$XDG_CACHE_HOME/pieces/<info-hash>/;"
echo "remounting serves what was fetched at once, without peers."
exit 0
