#!/usr/bin/python3
"""Writes malicious and malformed .torrent files next to this script.

Each file name says what is wrong with it; EXPECTED lists, for each file, a
substring the error message of `pieces info FILE` must contain. The output
is deterministic, so the generated files can be committed and regenerated
without noise. Standard library only.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def benc(v):
    """A minimal bencoder: dict keys are sorted, as BEP 3 asks."""
    if isinstance(v, bool):
        raise TypeError("no booleans in bencode")
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, dict):
        keys = sorted((k.encode() if isinstance(k, str) else k, val) for k, val in v.items())
        return b"d" + b"".join(benc(k) + benc(val) for k, val in keys) + b"e"
    raise TypeError(type(v))


def pieces(total, plen):
    """Fake but well-formed piece hashes for `total` bytes."""
    n = (total + plen - 1) // plen
    return b"".join(bytes([i % 256]) * 20 for i in range(n))


def single(name="file.bin", length=1000, plen=16384, **extra):
    info = {"name": name, "length": length, "piece length": plen,
            "pieces": pieces(length, plen)}
    info.update(extra)
    return {"announce": "http://tracker.invalid/announce", "info": info}


def multi(files, name="t", plen=16384, **extra):
    """files: list of (length, [path components]) or full dicts."""
    entries = []
    total = 0
    for f in files:
        if isinstance(f, dict):
            entries.append(f)
            total += max(f.get("length", 0), 0) if isinstance(f.get("length"), int) else 0
        else:
            length, path = f
            entries.append({"length": length, "path": path})
            total += max(length, 0)
    info = {"name": name, "files": entries, "piece length": plen,
            "pieces": pieces(total, plen)}
    info.update(extra)
    return {"announce": "http://tracker.invalid/announce", "info": info}


def info_bytes(info_raw):
    """A torrent whose info value is given as raw bytes."""
    return b"d8:announce31:http://tracker.invalid/announce4:info" + info_raw + b"e"


CASES = []


def case(fname, expect, data):
    if not isinstance(data, bytes):
        data = benc(data)
    CASES.append((fname, expect, data))


# --- hostile paths -------------------------------------------------------
case("path-dotdot.torrent", "contains '..'",
     multi([(10, ["ok.txt"]), (10, ["..", "..", "..", "etc", "passwd"])]))
case("path-dotdot-deep.torrent", "contains '..'",
     multi([(10, ["a", "b", "..", "..", "..", "x"])]))
case("path-dot.torrent", "contains a '.' component",
     multi([(10, [".", "x"])]))
case("path-absolute.torrent", "is an absolute path",
     multi([(10, ["", "etc", "passwd"])]))
case("path-absolute-in-component.torrent", "is an absolute path",
     multi([(10, ["/etc/passwd"])]))
case("path-slash-in-component.torrent", "contains '/' inside a component",
     multi([(10, ["a", "b/../../../c"])]))
case("path-backslash.torrent", "contains '\\' inside a component",
     multi([(10, ["..\\..\\Windows\\system.ini"])]))
case("path-nul.torrent", "contains a NUL byte",
     multi([(10, ["safe\x00/../../etc/passwd"])]))
case("path-newline.torrent", "contains control character 0x0a",
     multi([(10, ["line1\nline2"])]))
case("path-escape-sequence.torrent", "contains control character 0x1b",
     multi([(10, ["\x1b]0;pwned\x07\x1b[2J"])]))
case("path-del.torrent", "contains control character 0x7f",
     multi([(10, ["a\x7fb"])]))
case("path-empty-component.torrent", "contains an empty component",
     multi([(10, ["a", "", "b"])]))
case("path-empty-list.torrent", "info.files[0].path is empty",
     multi([(10, [])]))
case("path-component-too-long.torrent", "has a component longer than 255 bytes",
     multi([(10, ["x" * 256])]))
case("path-too-long.torrent", "is longer than 4000 bytes",
     multi([(10, ["d" * 200] * 25)]))
case("path-not-string.torrent", "info.files[0].path[1] is an integer, expected a string",
     multi([(10, ["a", 7])]))
case("path-utf8-dotdot.torrent", "info.files[0].path.utf-8",
     multi([{"length": 10, "path": ["fine"], "path.utf-8": ["..", "evil"]}]))

# --- hostile names -------------------------------------------------------
case("name-dotdot.torrent", "info.name \"..\" contains '..'", single(name=".."))
case("name-slash.torrent", "contains '/' inside a component", single(name="../../.bashrc"))
case("name-absolute.torrent", "is an absolute path", single(name="/etc/cron.d/x"))
case("name-empty.torrent", "contains an empty component", single(name=""))
case("name-utf8-dotdot.torrent", "info.name \"..\" contains '..'",
     single(name="harmless", **{"name.utf-8": ".."}))
case("name-missing.torrent", "info.name is missing",
     {"info": {"length": 10, "piece length": 16, "pieces": pieces(10, 16)}})

# --- collisions ----------------------------------------------------------
case("duplicate-paths.torrent", "is a duplicate of info.files[0]",
     multi([(10, ["dir", "same"]), (10, ["other"]), (10, ["dir", "same"])]))
case("file-is-also-dir.torrent", "uses it as a directory",
     multi([(10, ["a"]), (10, ["a", "b"])]))

# --- sizes ---------------------------------------------------------------
case("length-negative.torrent", "info.files[1].length is negative",
     multi([(10, ["a"]), (-10, ["b"])]))
case("length-negative-single.torrent", "info.length is negative",
     {"info": {"name": "x", "length": -1, "piece length": 16, "pieces": b""}})
case("length-overflow.torrent", "makes the total length overflow",
     {"info": {"name": "t", "piece length": 2**28, "pieces": b"\x01" * 20,
               "files": [{"length": 2**62, "path": ["a"]},
                         {"length": 2**62, "path": ["b"]}]}})
case("length-int64-overflow.torrent", "overflows 64 bits",
     info_bytes(b"d6:lengthi99999999999999999999e4:name1:x12:piece lengthi16e6:pieces0:e"))
case("total-length-zero.torrent", "total length 0",
     {"info": {"name": "x", "length": 0, "piece length": 16, "pieces": b""}})
case("piece-count-mismatch.torrent", "info.pieces has a hash count of 1 but",
     {"info": {"name": "x", "length": 100000, "piece length": 16384, "pieces": b"\x01" * 20}})
case("piece-length-zero.torrent", "info.piece length is 0",
     {"info": {"name": "x", "length": 10, "piece length": 0, "pieces": b"\x01" * 20}})
case("piece-length-negative.torrent", "info.piece length is -16384",
     {"info": {"name": "x", "length": 10, "piece length": -16384, "pieces": b"\x01" * 20}})
case("piece-length-huge.torrent", "larger than the limit",
     single(length=2**40, plen=2**40))
case("piece-length-string.torrent", "info.piece length is a string, expected an integer",
     {"info": {"name": "x", "length": 10, "piece length": "16384", "pieces": b"\x01" * 20}})
case("pieces-not-multiple-of-20.torrent", "not a multiple of 20",
     {"info": {"name": "x", "length": 10, "piece length": 16, "pieces": b"\x01" * 21}})
case("files-empty.torrent", "info.files is empty", multi([]))
case("files-entry-not-dict.torrent", "info.files[0] is a string, expected a dictionary",
     {"info": {"name": "t", "files": ["a"], "piece length": 16, "pieces": b""}})
case("length-and-files.torrent", "both length and files",
     multi([(10, ["a"])], length=10))
case("private-string.torrent", "info.private is a string",
     single(private="1"))

# --- structure -----------------------------------------------------------
case("info-missing.torrent", "info is missing",
     {"announce": "http://tracker.invalid/announce"})
case("info-not-dict.torrent", "info is a list, expected a dictionary",
     {"info": [1, 2, 3]})
case("top-level-list.torrent", "the torrent is a list",
     [single()])
case("v2-only.torrent", "BitTorrent v2-only torrents are not supported yet",
     {"info": {"name": "v2", "meta version": 2, "piece length": 16384,
               "file tree": {"v2": {"": {"length": 10, "pieces root": b"\x00" * 32}}}},
      "piece layers": {}})
case("meta-version-3.torrent", "meta version 3 is not supported",
     single(**{"meta version": 3}))

# --- broken bencode ------------------------------------------------------
good = benc(single())
case("truncated.torrent", "input ends inside a dictionary", good[:-1])
case("truncated-in-string.torrent", "runs past the end of the input", good[: len(good) // 2])
case("trailing-garbage.torrent", "trailing data", good + b"\n<script>")
case("deep-nesting.torrent", "nesting deeper than",
     b"d4:info" + b"l" * 10000 + b"e" * 10000 + b"e")
case("leading-zero-int.torrent", "leading zero",
     info_bytes(b"d6:lengthi010e4:name1:x12:piece lengthi16e6:pieces20:" + b"\x01" * 20 + b"e"))
case("negative-zero-int.torrent", "negative zero",
     info_bytes(b"d6:lengthi-0e4:name1:x12:piece lengthi16e6:pieces0:e"))
case("string-past-end.torrent", "runs past the end of the input",
     b"d8:announce999999:http://tracker.invalid/e")
case("string-length-huge.torrent", "overflows 64 bits",
     b"d8:announce99999999999999999999999:xe")
case("duplicate-dict-key.torrent", "duplicate dictionary key",
     info_bytes(b"d6:lengthi10e4:name4:good4:name2:..12:piece lengthi16e6:pieces20:"
                + b"\x01" * 20 + b"e"))
case("dict-key-not-string.torrent", "is not a string",
     b"di1ei2ee")
case("empty-file.torrent", "empty input", b"")
case("not-bencode.torrent", "not a valid torrent",
     b"<!DOCTYPE html><html><body>404 Not Found</body></html>\n")
case("unexpected-byte.torrent", "unexpected byte",
     b"d4:infox")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    names = set()
    lines = ["# Generated by make-hostile.py: <file> <substring of the error message>"]
    for fname, expect, data in CASES:
        assert fname not in names, fname
        assert "\n" not in expect
        names.add(fname)
        with open(os.path.join(out, fname), "wb") as f:
            f.write(data)
        lines.append("%s %s" % (fname, expect))
    with open(os.path.join(out, "EXPECTED"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d files to %s" % (len(CASES), out))


if __name__ == "__main__":
    main()
