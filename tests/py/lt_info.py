#!/usr/bin/python3
"""Prints what python3-libtorrent reads from a .torrent, as JSON shaped like
`pieces info --json` (name, info_hash, total_size, piece_size, piece_count,
private, trackers by tier, web_seeds, files without padding files), so the
interop tests can compare the two field by field."""
import json
import sys

import libtorrent as lt


def main(path):
    ti = lt.torrent_info(path)
    fs = ti.files()
    files = []
    for i in range(fs.num_files()):
        if fs.file_flags(i) & lt.file_storage.flag_pad_file:
            continue
        files.append({"path": fs.file_path(i), "size": fs.file_size(i)})
    tiers = {}
    for t in ti.trackers():
        tiers.setdefault(t.tier, []).append(t.url)
    out = {
        "name": ti.name(),
        "info_hash": str(ti.info_hashes().v1),
        "total_size": ti.total_size(),
        "piece_size": ti.piece_length(),
        "piece_count": ti.num_pieces(),
        "private": bool(ti.priv()),
        "trackers": [tiers[k] for k in sorted(tiers)],
        "web_seeds": [w["url"] for w in ti.web_seeds()],
        "files": files,
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
