#!/usr/bin/python3
"""Readers for the streaming benchmark (bench/stream.sh). Each prints one
JSON object on stdout.

    stream_read.py ttfb FILE --at FRACTION [--first BYTES] [--next BYTES]
        open FILE, read --first bytes (default 1 MiB) at FRACTION of its size:
        ttfb_s = open + first read(); then read --next bytes (default 64 MiB)
        sequentially after it in 1 MiB reads: next_s, next_MBps.
    stream_read.py play FILE --rate BYTES_PER_S --seconds S [--chunk BYTES]
        playback simulation from offset 0: chunk k is due at k*chunk/rate after
        the first byte arrived (the player starts once it has data). A read
        that returns more than --stall (default 0.5) s after its chunk was due
        is a stall; the schedule then restarts from that moment (the player
        pauses, it does not skip). Reports stalls, stalls after the first
        second, the longest lateness, the startup time.
    stream_read.py read FILE [--bs BYTES]
        read the whole file sequentially: seconds and MB/s.
"""
import argparse
import json
import os
import sys
import time

MiB = 1 << 20


def read_exact(fd, n, off):
    got = 0
    while got < n:
        b = os.pread(fd, min(n - got, MiB), off + got)
        if not b:
            break
        got += len(b)
    return got


def cmd_ttfb(a):
    t0 = time.monotonic()
    fd = os.open(a.file, os.O_RDONLY)
    size = os.fstat(fd).st_size
    off = int(size * a.at) // MiB * MiB
    n = read_exact(fd, min(a.first, size - off), off)
    t1 = time.monotonic()
    off += n
    want = min(a.next, size - off)
    m = 0
    while m < want:
        b = os.pread(fd, min(MiB, want - m), off + m)
        if not b:
            break
        m += len(b)
    t2 = time.monotonic()
    os.close(fd)
    print(json.dumps(dict(ttfb_s=t1 - t0, first_bytes=n, next_bytes=m,
                          next_s=t2 - t1,
                          next_MBps=m / 1e6 / max(t2 - t1, 1e-9))))


def cmd_play(a):
    t0 = time.monotonic()
    fd = os.open(a.file, os.O_RDONLY)
    size = os.fstat(fd).st_size
    total = min(size, int(a.rate * a.seconds))
    off = 0
    b = os.pread(fd, a.chunk, 0)
    off = len(b)
    start = time.monotonic()
    startup = start - t0
    base, base_off = start, off  # schedule: byte x is due at base + (x-base_off)/rate
    stalls = []
    max_late = 0.0
    while off < total:
        due = base + (off - base_off) / a.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        b = os.pread(fd, min(a.chunk, total - off), off)
        if not b:
            break
        done = time.monotonic()
        late = done - max(due, base)
        max_late = max(max_late, late)
        if late > a.stall:
            stalls.append(dict(at_s=round(due - start, 3), late_s=round(late, 3),
                               offset=off))
            base, base_off = done, off + len(b)
        off += len(b)
    end = time.monotonic()
    os.close(fd)
    after1 = [s for s in stalls if s["at_s"] >= 1.0]
    print(json.dumps(dict(startup_s=startup, bytes=off, play_s=end - start,
                          stalls=len(stalls), stalls_after_1s=len(after1),
                          stall_s=sum(s["late_s"] for s in stalls),
                          max_late_s=max_late, stall_list=stalls[:20])))


def cmd_read(a):
    t0 = time.monotonic()
    fd = os.open(a.file, os.O_RDONLY)
    n = 0
    while True:
        b = os.read(fd, a.bs)
        if not b:
            break
        n += len(b)
    os.close(fd)
    t = time.monotonic() - t0
    print(json.dumps(dict(bytes=n, s=t, MBps=n / 1e6 / max(t, 1e-9))))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ttfb")
    p.add_argument("file")
    p.add_argument("--at", type=float, default=0.6)
    p.add_argument("--first", type=int, default=MiB)
    p.add_argument("--next", type=int, default=64 * MiB)
    p = sub.add_parser("play")
    p.add_argument("file")
    p.add_argument("--rate", type=float, default=8e6)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--chunk", type=int, default=256 * 1024)
    p.add_argument("--stall", type=float, default=0.5)
    p = sub.add_parser("read")
    p.add_argument("file")
    p.add_argument("--bs", type=int, default=MiB)
    a = ap.parse_args()
    {"ttfb": cmd_ttfb, "play": cmd_play, "read": cmd_read}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
