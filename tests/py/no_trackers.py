#!/usr/bin/python3
"""no_trackers.py IN.torrent OUT.torrent: a copy of a torrent without its
trackers (announce, announce-list). The info dictionary is copied byte for
byte, so the info-hash stays the same: peers given by address serve it,
and nothing can learn of other peers from a tracker.
"""
import sys


def end(raw, i):
    """Index just past the bencoded value starting at raw[i]."""
    c = raw[i:i + 1]
    if c == b"i":
        return raw.index(b"e", i) + 1
    if c in (b"l", b"d"):
        i += 1
        while raw[i:i + 1] != b"e":
            i = end(raw, i)
        return i + 1
    colon = raw.index(b":", i)
    return colon + 1 + int(raw[i:colon])


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    raw = open(sys.argv[1], "rb").read()
    if raw[:1] != b"d":
        sys.exit("no_trackers.py: %s is not a bencoded dictionary" % sys.argv[1])
    out, i = [b"d"], 1
    while raw[i:i + 1] != b"e":
        k = end(raw, i)
        v = end(raw, k)
        if raw[i:k] not in (b"8:announce", b"13:announce-list"):
            out.append(raw[i:v])
        i = v
    out.append(b"e")
    open(sys.argv[2], "wb").write(b"".join(out))


if __name__ == "__main__":
    main()
