#!/usr/bin/python3
"""A python3-libtorrent peer for the integration tests, confined to loopback.

    lt_seed.py TORRENT DATA_DIR [--ip IP] [--port PORT] [--upload-limit BYTES]
               [--partial] [--connect HOST:PORT]

Listens on IP:PORT (default 127.0.0.1, port 0 = any; outgoing connections
from IP too) with DHT, LSD, UPnP, NAT-PMP, PEX and uTP off, checks the data
already in DATA_DIR, then seeds it and announces to the torrent's trackers.
--upload-limit caps the upload rate (bytes/s), local peers included.
--connect dials HOST:PORT once ready, and again every 2 s while no peer is
connected (a peer that refused us may take us later).
Prints one line
    ready port=N pieces=K/N
once checking is done, the torrent is seeding (or, with --partial, once it
holds whatever pieces the data in DATA_DIR had right: it then uploads those
and never downloads anything) and a tracker has answered (an error counts
too, so that a refusing tracker cannot hang the caller), if it has any.
Runs until killed (SIGTERM/SIGINT end it quietly)."""
import argparse
import signal
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("torrent")
    ap.add_argument("data_dir")
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--upload-limit", type=int, default=0)
    ap.add_argument("--partial", action="store_true")
    ap.add_argument("--connect", metavar="HOST:PORT")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="give up (exit 1) when not ready after this long")
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

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
        "alert_mask": lt.alert.category_t.all_categories,
        # No upload slot limit: every local leecher gets unchoked.
        "unchoke_slots_limit": -1,
        "user_agent": "lt_seed/" + lt.__version__,
    }
    if a.upload_limit:
        settings["upload_rate_limit"] = a.upload_limit
    # flags 0: no default plugins, so no ut_pex (PEX off); ut_metadata and
    # smart_ban are added back below.
    ses = lt.session(settings, 0)
    # By default peers on loopback/LAN belong to the "local" peer class,
    # which no rate limit applies to: put every address in the global class.
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1 << ses.global_peer_class_id)
    ses.set_peer_class_filter(f)
    ses.add_extension("ut_metadata")
    ses.add_extension("smart_ban")

    ti = lt.torrent_info(a.torrent)
    p = lt.add_torrent_params()
    p.ti = ti
    p.save_path = a.data_dir
    # Not auto-managed (never queued); when partial, every piece has
    # priority 0 so that it uploads what it has and fetches nothing.
    p.flags &= ~lt.torrent_flags.auto_managed
    p.flags &= ~lt.torrent_flags.paused
    if a.partial:
        p.piece_priorities = [0] * ti.num_pieces()
    h = ses.add_torrent(p)

    ntrackers = len(list(ti.trackers()))
    answered = set()
    ready = False
    deadline = time.monotonic() + a.timeout
    dialled = 0.0
    while True:
        for al in ses.pop_alerts():
            if isinstance(al, (lt.tracker_reply_alert, lt.tracker_error_alert,
                               lt.scrape_reply_alert)):
                answered.add(al.url)
            if isinstance(al, lt.listen_failed_alert):
                print("listen failed: %s" % al.message(), file=sys.stderr)
                sys.exit(1)
        st = h.status()
        checked = st.state in (lt.torrent_status.seeding,
                               lt.torrent_status.finished,
                               lt.torrent_status.downloading)
        if not ready and checked and (a.partial or st.is_seeding) \
                and len(answered) >= min(ntrackers, 1):
            ready = True
            print("ready port=%d pieces=%d/%d" % (ses.listen_port(),
                                                  st.num_pieces,
                                                  ti.num_pieces()),
                  flush=True)
        if ready and a.connect and st.num_peers == 0 and time.monotonic() - dialled > 2:
            host, port = a.connect.rsplit(":", 1)
            h.connect_peer((host.strip("[]"), int(port)))
            dialled = time.monotonic()
        if not ready and time.monotonic() > deadline:
            print("not ready after %gs: state %s, %d/%d pieces, trackers answered %d/%d"
                  % (a.timeout, st.state, st.num_pieces, ti.num_pieces(),
                     len(answered), ntrackers), file=sys.stderr)
            sys.exit(1)
        time.sleep(0.05)


if __name__ == "__main__":
    main()
