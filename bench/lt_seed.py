#!/usr/bin/python3
"""A fast python3-libtorrent seeder for the download benchmark (bench/).

    lt_seed.py --ip IP [--port PORT] --save DIR [--connect-file FILE]
               [--upload-limit BYTES_PER_S] [--timeout S] TORRENT...

Seeds every TORRENT from DIR (the torrents' save path), listening on IP:PORT
and dialling out from IP, with DHT, LSD, UPnP, NAT-PMP, uTP and PEX off.
Tuned not to be the bottleneck: unlimited unchoke slots, big send buffers,
plain-text outgoing connections, several connections per IP allowed.

Prints "ready port=N" once every torrent is checked, seeding and has heard
from its tracker (an error counts too; a torrent without trackers needs not). Then, until killed, polls
--connect-file: each of its lines "INFOHASH HOST PORT" makes this seeder dial
HOST:PORT for that torrent, again every second while the line stays and the
peer is not connected. That is how a leecher which ignores loopback peers
from the tracker (Transmission 3.00) gets its seeders.
"""
import argparse
import os
import signal
import sys
import time

import libtorrent as lt

MiB = 1024 * 1024


def read_connect(path):
    want = []
    try:
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) == 3:
                    want.append((w[0].lower(), w[1], int(w[2])))
    except (OSError, ValueError):
        pass
    return want


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("torrents", nargs="+")
    ap.add_argument("--ip", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--save", required=True)
    ap.add_argument("--connect-file")
    ap.add_argument("--upload-limit", type=int, default=0,
                    help="bytes/s per torrent (0: none); applies to loopback peers too")
    ap.add_argument("--timeout", type=float, default=180.0,
                    help="exit 1 when not ready after this long")
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))

    settings = {
        "listen_interfaces": "%s:%d" % (a.ip, a.port),
        "outgoing_interfaces": a.ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "alert_mask": (lt.alert.category_t.status_notification
                       | lt.alert.category_t.error_notification
                       | lt.alert.category_t.tracker_notification),
        "user_agent": "bench_seed/" + lt.__version__,
        # Every leecher unchoked at once, no rate limit anywhere.
        "unchoke_slots_limit": -1,
        "upload_rate_limit": 0,
        "connections_limit": 500,
        # Keep plenty of data queued on each socket.
        "send_buffer_watermark": 16 * MiB,
        "send_buffer_low_watermark": 2 * MiB,
        "send_buffer_watermark_factor": 200,
        "max_allowed_in_request_queue": 4000,
        "aio_threads": 4,
        "hashing_threads": 2,
        # Plain text when we dial; accept both when dialled; never prefer RC4.
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.enabled),
        "allowed_enc_level": int(lt.enc_level.both),
        "prefer_rc4": False,
    }
    ses = lt.session(settings)
    # Loopback peers fall in libtorrent's "local" peer class, which has no
    # rate limit; and no limit is set on the global class either.
    ses.add_extension("ut_metadata")  # no ut_pex

    handles = {}
    for t in a.torrents:
        ti = lt.torrent_info(t)
        p = lt.add_torrent_params()
        p.ti = ti
        p.save_path = a.save
        p.flags &= ~lt.torrent_flags.auto_managed
        p.flags &= ~lt.torrent_flags.paused
        h = ses.add_torrent(p)
        if a.upload_limit > 0:
            # The torrent's own peer class covers every peer, local ones too.
            h.set_upload_limit(a.upload_limit)
        handles[str(ti.info_hash()).lower()] = h

    # A torrent without trackers (bench/seed.sh) has nobody to hear from.
    answered = {ih for ih, h in handles.items() if not list(h.torrent_file().trackers())}
    ready = False
    deadline = time.monotonic() + a.timeout
    last_dial = {}
    while True:
        for al in ses.pop_alerts():
            if isinstance(al, (lt.tracker_reply_alert, lt.tracker_error_alert)):
                answered.add(str(al.handle.info_hash()))
            elif isinstance(al, lt.listen_failed_alert):
                print("listen failed: %s" % al.message(), file=sys.stderr)
                sys.exit(1)
            elif isinstance(al, (lt.file_error_alert, lt.torrent_error_alert)):
                print("error: %s" % al.message(), file=sys.stderr, flush=True)
        if not ready:
            sts = [h.status() for h in handles.values()]
            if all(s.is_seeding for s in sts) and len(answered) >= len(handles):
                ready = True
                print("ready port=%d" % ses.listen_port(), flush=True)
            elif time.monotonic() > deadline:
                for ih, h in handles.items():
                    s = h.status()
                    print("not ready: %s state %s pieces %d seeding %s"
                          % (ih, s.state, s.num_pieces, s.is_seeding),
                          file=sys.stderr)
                sys.exit(1)
            time.sleep(0.05)
            continue
        if a.connect_file:
            now = time.monotonic()
            for ih, host, port in read_connect(a.connect_file):
                h = handles.get(ih)
                if h is None or now - last_dial.get((ih, host, port), 0) < 1.0:
                    continue
                last_dial[(ih, host, port)] = now
                connected = any(pi.ip == (host, port) for pi in h.get_peer_info())
                if not connected:
                    h.connect_peer((host, port), 0)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
