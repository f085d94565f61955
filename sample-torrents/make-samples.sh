#!/bin/sh
# Regenerates the deterministic sample payload and its torrents. The
# committed files are the reference; this script documents how they were
# made (same bytes every run: a seeded PRNG, no dates in the torrents).
#   sh sample-torrents/make-samples.sh PATH/TO/pieces
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pieces=${1:?usage: make-samples.sh PATH/TO/pieces}
/usr/bin/python3 - "$here/data" <<'PY'
import os, random, sys
root = sys.argv[1]
def put(rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
rng = random.Random(20261124)
# Single file: not a multiple of the piece size, so the last piece is short.
put("pieces-sample.bin", rng.randbytes(1536 * 1024 + 777))
# Multi-file: pieces span file boundaries, a 0-byte file, files under a block.
m = "pieces-sample-multi/"
put(m + "README.txt", b"pieces sample payload: deterministic bytes for demos and tests.\n")
put(m + "video/clip.bin", rng.randbytes(1024 * 1024 + 123))
put(m + "audio/track01.bin", rng.randbytes(300 * 1024 + 5))
put(m + "audio/track02.bin", rng.randbytes(17))
put(m + "empty.txt", b"")
put(m + "tiny.txt", b"x" * 100)
PY
cd "$here"
"$pieces" create -q -f -d -l 32K -a http://127.0.0.1:6969/announce \
	-c "pieces sample (single file)" -o pieces-sample.torrent data/pieces-sample.bin
"$pieces" create -q -f -d -l 32K -a http://127.0.0.1:6969/announce \
	-c "pieces sample (multi-file)" -o pieces-sample-multi.torrent data/pieces-sample-multi
