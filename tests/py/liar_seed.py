#!/usr/bin/python3
"""A seeder that lies, for the integration tests (raw sockets, BEP 3).

    liar_seed.py TORRENT [--ip IP] [--port PORT] [--timeout SECS]
                 [--rate N] [--data FILE --bad-block K]

Listens on IP:PORT (default 127.0.0.1, port 0 = any) and serves every peer
that connects: handshake, a BITFIELD claiming every piece, UNCHOKE, and for
each REQUEST a PIECE message of the right index, offset and length whose
bytes are random: well-formed, and wrong. No real client sends bad data on
purpose, so this is the one hand-written peer the download tests use.
--rate N answers at most N requests a second per connection. With --data
(the payload of a single-file torrent) and --bad-block K it is
subtler, like a peer with a fault rather than a vandal: blocks come from
FILE, all true but block K of each piece (offset K * 16 KiB), which is
random. The pieces it shares with others then fail or verify depending on
who sent that block.
Prints one line
    ready port=N
once listening, then one line per connection when it ends:
    served peer=HOST:PORT blocks=B bytes=N closed_by_peer=yes|no
Runs until killed (SIGTERM/SIGINT end it quietly) or --timeout (default
120 s) passes.
"""
import argparse
import os
import random
import selectors
import signal
import socket
import struct
import sys
import time

from btkit import torrent_facts


class Conn:
    def __init__(self, sock, addr):
        self.s = sock
        self.name = "%s:%d" % addr[:2]
        self.inbuf = b""
        self.out = bytearray()
        self.shook = False
        self.blocks = 0
        self.queue = []
        self.next_at = 0.0
        self.bytes = 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("torrent")
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--data")
    ap.add_argument("--bad-block", type=int, default=-1)
    ap.add_argument("--rate", type=float, default=0.0)
    ap.add_argument("--only-block", type=int, default=-1)
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    info_hash, plen, _, npieces = torrent_facts(a.torrent)
    data = open(a.data, "rb") if a.data else None
    rng = random.Random(os.getpid())
    my_id = b"-LI0001-" + rng.randbytes(12)
    bitfield = bytearray((npieces + 7) // 8)
    for i in range(npieces):
        bitfield[i // 8] |= 0x80 >> (i % 8)

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.ip, a.port))
    ls.listen(16)
    ls.setblocking(False)
    print("ready port=%d" % ls.getsockname()[1], flush=True)

    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    end = time.monotonic() + a.timeout

    def close(c, by_peer):
        sel.unregister(c.s)
        c.s.close()
        print("served peer=%s blocks=%d bytes=%d closed_by_peer=%s"
              % (c.name, c.blocks, c.bytes, "yes" if by_peer else "no"), flush=True)

    def frame(mid, payload=b""):
        return struct.pack(">IB", 1 + len(payload), mid) + payload

    def release(c):
        """Answers queued requests: all of them, or with --rate as many
        as the time since the first request allows."""
        now = time.monotonic()
        while c.queue:
            if a.rate > 0:
                if c.next_at == 0:
                    c.next_at = now
                if c.next_at > now:
                    break
                c.next_at += 1.0 / a.rate
            index, begin, length = c.queue.pop(0)
            if data is not None and begin != a.bad_block * 16384:
                data.seek(index * plen + begin)
                block = data.read(length)
            else:
                block = rng.randbytes(length)
            c.out += frame(7, struct.pack(">II", index, begin) + block)
            c.blocks += 1
            c.bytes += length
        if c.out or c.queue:
            want = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0)
            sel.modify(c.s, want, c)

    while time.monotonic() < end:
        for key in list(sel.get_map().values()):
            if key.data is not None and key.data.queue:
                release(key.data)
        for key, ev in sel.select(timeout=0.01 if a.rate > 0 else 0.5):
            if key.data is None:
                try:
                    s, addr = ls.accept()
                except BlockingIOError:
                    continue
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, Conn(s, addr))
                continue
            c = key.data
            if ev & selectors.EVENT_WRITE and c.out:
                try:
                    n = c.s.send(c.out)
                    del c.out[:n]
                except BlockingIOError:
                    pass
                except OSError:
                    close(c, True)
                    continue
            if ev & selectors.EVENT_READ:
                try:
                    d = c.s.recv(1 << 16)
                except BlockingIOError:
                    d = None
                except OSError:
                    d = b""
                if d == b"":
                    close(c, True)
                    continue
                if d:
                    c.inbuf += d
            if not c.shook and len(c.inbuf) >= 68:
                if c.inbuf[:20] != b"\x13BitTorrent protocol" or c.inbuf[28:48] != info_hash:
                    close(c, False)
                    continue
                c.inbuf = c.inbuf[68:]
                c.shook = True
                c.out += b"\x13BitTorrent protocol" + bytes(8) + info_hash + my_id
                c.out += frame(5, bytes(bitfield)) + frame(1)
            while c.shook and len(c.inbuf) >= 4:
                (n,) = struct.unpack(">I", c.inbuf[:4])
                if len(c.inbuf) < 4 + n:
                    break
                body, c.inbuf = c.inbuf[4:4 + n], c.inbuf[4 + n:]
                if n == 13 and body[0] == 6:
                    index, begin, length = struct.unpack(">III", body[1:])
                    if a.only_block >= 0 and begin != a.only_block * 16384:
                        pass
                    elif length <= 1 << 17:
                        c.queue.append((index, begin, length))
            release(c)
            want = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0)
            sel.modify(c.s, want, c)
    return 0


if __name__ == "__main__":
    sys.exit(main())
