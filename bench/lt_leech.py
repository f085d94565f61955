#!/usr/bin/python3
"""A python3-libtorrent leecher for the download benchmark (bench/).

    lt_leech.py --ip IP --port PORT TORRENT DIR

Downloads TORRENT into DIR with libtorrent's default settings, except what a
loopback swarm needs: listen on IP:PORT, DHT, LSD, UPnP, NAT-PMP, uTP and
PEX off, several connections per IP allowed. Peers come from the torrent's
tracker. Once every piece has passed its hash check it flushes its disk
writes and exits 0 at once (no tracker "stopped" round trip); a file or
torrent error exits 1. The caller bounds the time.
"""
import argparse
import os
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("torrent")
    ap.add_argument("dir")
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()

    ses = lt.session({
        "listen_interfaces": "%s:%d" % (a.ip, a.port),
        "outgoing_interfaces": a.ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": (lt.alert.category_t.status_notification
                       | lt.alert.category_t.error_notification
                       | lt.alert.category_t.storage_notification),
        "user_agent": "bench_leech/" + lt.__version__,
    })
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(a.torrent)
    p.save_path = a.dir
    p.flags &= ~lt.torrent_flags.auto_managed
    p.flags &= ~lt.torrent_flags.paused
    h = ses.add_torrent(p)

    done = False
    while not done:
        ses.wait_for_alert(100)
        for al in ses.pop_alerts():
            if isinstance(al, (lt.file_error_alert, lt.torrent_error_alert)):
                print("error: %s" % al.message(), file=sys.stderr)
                os._exit(1)
            if isinstance(al, lt.torrent_finished_alert):
                done = True
        if h.status().is_seeding:
            done = True
    # Every block must be in the file before declaring victory: flush_cache()
    # waits (behind a disk-job fence) for the writes still queued and closes
    # the files, then posts cache_flushed_alert.
    h.flush_cache()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        for al in ses.pop_alerts():
            if isinstance(al, lt.cache_flushed_alert):
                sys.stdout.flush()
                os._exit(0)
    print("no cache_flushed_alert after flush_cache()", file=sys.stderr)
    os._exit(1)


if __name__ == "__main__":
    main()
