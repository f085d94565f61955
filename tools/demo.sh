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
