#!/usr/bin/python3
"""What `pieces info FILE.torrent` should print, worked out from the file
itself with btkit's bencode decoder (not from pieces' own parser or its
--json output), for tests/cli.sh to compare with the real output.

    info_expect.py FILE.torrent

Covers well-formed v1 torrents: name, info-hash (SHA-1 of the raw info
dictionary), total size, piece count and size, private flag, creation date,
created by, comment, source, trackers by tier (announce-list, else
announce), web seeds (url-list) and the files that are not BEP 47 padding,
with sizes in binary units as pieces writes them ("300.00 KiB", "0 B")."""
import sys
import time

from btkit import bdecode, torrent_facts


def human(n):
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    v, u = float(n), 0
    while v >= 1024 and u < 6:
        v /= 1024
        u += 1
    return "%d B" % n if u == 0 else "%.2f %s" % (v, units[u])


def text(b):
    # pieces shows control characters as '?' (hostile names cannot drive
    # the terminal).
    return "".join("?" if ord(c) < 0x20 or ord(c) == 0x7f else c
                   for c in b.decode("utf-8", "replace"))


def main():
    path = sys.argv[1]
    top, _ = bdecode(open(path, "rb").read())
    info = top[b"info"]
    ih, plen, total, npieces = torrent_facts(path)
    name = text(info[b"name"])
    out = ["Name: " + name,
           "Info-hash: " + ih.hex(),
           "Size: %s (%d bytes)" % (human(total), total),
           "Pieces: %d x %s" % (npieces, human(plen)),
           "Private: " + ("yes" if info.get(b"private") == 1 else "no")]
    if b"creation date" in top:
        out.append("Created on: " + time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                  time.gmtime(top[b"creation date"])))
    if b"created by" in top:
        out.append("Created by: " + text(top[b"created by"]))
    comment = top.get(b"comment.utf-8", top.get(b"comment"))
    if comment is not None:
        out.append("Comment: " + text(comment))
    if b"source" in info:
        out.append("Source: " + text(info[b"source"]))
    tiers = [t for t in top.get(b"announce-list", []) if t]
    if not tiers and b"announce" in top:
        tiers = [[top[b"announce"]]]
    out.append("")
    out.append("Trackers:" + ("" if tiers else " none"))
    for i, tier in enumerate(tiers):
        out.append("  Tier %d:" % (i + 1))
        out += ["    " + text(u) for u in tier]
    seeds = top.get(b"url-list", [])
    if isinstance(seeds, bytes):
        seeds = [seeds]
    if seeds:
        out.append("")
        out.append("Web seeds:")
        out += ["  " + text(u) for u in seeds]
    if b"files" in info:
        files = [(name + "/" + "/".join(text(c) for c in f[b"path"]), f[b"length"])
                 for f in info[b"files"] if b"p" not in f.get(b"attr", b"")]
    else:
        files = [(name, info[b"length"])]
    out.append("")
    out.append("Files (%d):" % len(files))
    out += ["  %s (%s)" % (p, human(n)) for p, n in files]
    print("\n".join(out))


if __name__ == "__main__":
    main()
