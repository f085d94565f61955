#!/usr/bin/python3
"""A crowd of BitTorrent peers arriving at once, for the --max-peers test.

    crowd_peer.py HOST PORT TORRENT N [--hold SECS]

Opens N TCP connections to HOST:PORT as fast as it can, then sends a BEP 3
handshake for TORRENT on each (so that none has finished its handshake
before the last one connects), and keeps every connection open for --hold
seconds (default 3), reading and discarding whatever the peer sends. Prints
    ready
once every connection is up and its handshake sent, then one line
    connected=C kept=K handshakes=H
where C is how many connections were established, K how many the peer still
held open at the end (not closed or reset by it) and H how many answered
with a handshake. Exit status 0, or 2 when it could not connect at all."""
import argparse
import os
import select
import socket
import sys
import time

from btkit import torrent_facts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("torrent")
    ap.add_argument("n", type=int)
    ap.add_argument("--hold", type=float, default=3.0)
    a = ap.parse_args()

    info_hash = torrent_facts(a.torrent)[0]
    socks = []
    for _ in range(a.n):
        try:
            socks.append(socket.create_connection((a.host, a.port), timeout=5))
        except OSError as e:
            print("connect: %s" % e, file=sys.stderr)
    if not socks:
        return 2
    for s in socks:
        try:
            s.sendall(b"\x13BitTorrent protocol" + bytes(8) + info_hash
                      + b"-CROWD0-" + os.urandom(12))
        except OSError:
            pass
        s.setblocking(False)
    print("ready", flush=True)

    got = {s: b"" for s in socks}
    open_ = set(socks)
    end = time.monotonic() + a.hold
    while open_ and time.monotonic() < end:
        r, _, _ = select.select(list(open_), [], [], max(0.0, end - time.monotonic()))
        for s in r:
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if not d:
                open_.discard(s)
            elif len(got[s]) < 68:
                got[s] += d[:68]
    shook = sum(1 for s in socks if got[s][:20] == b"\x13BitTorrent protocol")
    print("connected=%d kept=%d handshakes=%d" % (len(socks), len(open_), shook), flush=True)
    for s in socks:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
