#!/usr/bin/python3
"""Markdown report of bench/stream.sh from its results.jsonl (medians over
the good runs), with the targets of issue 5."""
import argparse
import json
import os
import platform
import statistics


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    for k in ("date", "pieces", "btfs"):
        ap.add_argument("--" + k, default="?")
    for k in ("bytes", "runs", "play-rate", "play-s", "seed-limit", "cp-limit", "far-ms"):
        ap.add_argument("--" + k, type=float, default=0)
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(a.jsonl) if l.strip()]

    def good(tool, test):
        return [r for r in rows if r["tool"] == tool and r["test"] == test
                and r.get("ok") and r.get("status", "ok") == "ok"]

    def med(tool, test, key):
        v = [r[key] for r in good(tool, test) if key in r]
        return statistics.median(v) if v else None

    def nruns(tool, test):
        n = [r for r in rows if r["tool"] == tool and r["test"] == test]
        return "%d/%d" % (len(good(tool, test)), len(n))

    def f(x, fmt="%.3f"):
        return "—" if x is None else fmt % x

    def ratio(x, y):
        return None if x is None or y is None or y == 0 else x / y

    def met(c):
        return "—" if c is None else ("yes" if c else "**no**")

    mb = a.bytes / 1e6
    p_ttfb, b_ttfb = med("pieces", "ttfb", "ttfb_s"), med("btfs", "ttfb", "ttfb_s")
    p_seq, b_seq = med("pieces", "ttfb", "next_MBps"), med("btfs", "ttfb", "next_MBps")
    p_cp, b_cp, dl = med("pieces", "cp", "s"), med("btfs", "cp", "s"), med("pieces", "download", "s")
    rd_disk, rd_mnt = med("pieces", "read-disk", "MBps"), med("pieces", "read-mount", "MBps")
    rd_disk_c = med("pieces", "read-disk-cold", "MBps")
    rd_mnt_c = med("pieces", "read-mount-cold", "MBps")
    p_cpc, dlc = med("pieces", "cp-capped", "s"), med("pieces", "download-capped", "s")
    speed = lambda s: None if s is None else mb / s
    out = []
    w = out.append
    w("# Streaming benchmark, %s" % a.date)
    w("")
    w("pieces `mount` against btfs (%s), one %.0f MiB file, 1 MiB pieces, three local"
      " python3-libtorrent seeders behind opentracker, in a network namespace with only"
      " `lo`. pieces %s; %s; %s x%d. Medians of %d run(s)." % (
          a.btfs, a.bytes / 2**20, a.pieces, "Linux " + platform.release(),
          next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?"), os.cpu_count(), a.runs))
    w("")
    w("| measure | pieces | btfs | target | met |")
    w("|---|---|---|---|---|")
    r = ratio(p_ttfb, b_ttfb)
    w("| time to first byte, 1 MiB at 60 %%, fresh cache (s) | %s | %s | ≤ btfs/10 and < 0.1 s | %s |"
      % (f(p_ttfb), f(b_ttfb), met(None if r is None else (r <= 0.1 and p_ttfb < 0.1))))
    r = ratio(p_seq, b_seq)
    w("| next 64 MiB, sequential (MB/s) | %s | %s | ≥ 10× btfs | %s |"
      % (f(p_seq, "%.1f"), f(b_seq, "%.1f"), met(None if r is None else r >= 10)))
    ps, bs = med("pieces", "play", "stalls_after_1s"), med("btfs", "play", "stalls_after_1s")
    w("| playback %.0f MB/s for %.0f s, seeders %.0f MB/s each: stalls > 0.5 s after the first second"
      " | %s | %s | 0 | %s |" % (a.play_rate / 1e6, a.play_s, a.seed_limit / 1e6,
                                 f(ps, "%g"), f(bs, "%g"), met(None if ps is None else ps == 0)))
    w("| playback: all stalls / longest lateness (s) / start-up (s) | %s / %s / %s | %s / %s / %s | | |"
      % (f(med("pieces", "play", "stalls"), "%g"), f(med("pieces", "play", "max_late_s")),
         f(med("pieces", "play", "startup_s")), f(med("btfs", "play", "stalls"), "%g"),
         f(med("btfs", "play", "max_late_s")), f(med("btfs", "play", "startup_s"))))
    if good("pieces", "play-far"):
        w("| for scale: the same playback, each seeder %.0f ms away each way (a proxy):"
          " stalls after the first second / all / longest lateness (s) | %s / %s / %s | — | | |"
          % (a.far_ms, f(med("pieces", "play-far", "stalls_after_1s"), "%g"),
             f(med("pieces", "play-far", "stalls"), "%g"),
             f(med("pieces", "play-far", "max_late_s"))))
    r = ratio(dl, p_cp)
    w("| `cp -r` from the mount, fresh cache (MB/s) | %s | %s | ≥ 90 %% of `pieces download` (%s MB/s) | %s |"
      % (f(speed(p_cp), "%.1f"), f(speed(b_cp), "%.1f"), f(speed(dl), "%.1f"),
         met(None if r is None else r >= 0.9)))
    p_cpd = med("pieces", "cp-dense", "s")
    w("| for scale: `cp --sparse=never -r` from the mount, fresh cache (MB/s; %% of download) | %s (%s %%) | | | |"
      % (f(speed(p_cpd), "%.1f"), f(None if ratio(dl, p_cpd) is None else 100 * ratio(dl, p_cpd), "%.0f")))
    cpl = med("pieces", "cp-local", "s")
    w("| for scale: `cp -r` of the same file from the local disk, page cache warm (MB/s) | %s | | | |"
      % f(speed(cpl), "%.1f"))
    dcp = med("pieces", "download-cp", "s")
    w("| for scale: `pieces download` with a local `cp -r` of a same-size file beside it, no FUSE,"
      " until both end (MB/s; %% of download alone) | %s (%s %%) | | | |"
      % (f(speed(dcp), "%.1f"), f(None if ratio(dl, dcp) is None else 100 * ratio(dl, dcp), "%.0f")))
    cpp, dpf = med("pieces", "cp-passfs", "s"), med("pieces", "download-passfs", "s")
    if cpp is not None or dpf is not None:
        w("| for scale, the FUSE floor: `cp -r` of the same local file through bench/passfs.c, a FUSE"
          " filesystem that does nothing else, served as pieces serves an incomplete file (direct I/O,"
          " looks sparse) (MB/s; CPU-s of the machine) | %s (%s) | | | |"
          % (f(speed(cpp), "%.1f"), f(med("pieces", "cp-passfs", "cpu_s"), "%.2f")))
        w("| for scale, the FUSE floor: `pieces download` with that `cp -r` through passfs beside it,"
          " until both end (MB/s; %% of download alone; CPU-s of the machine) | %s (%s %%; %s) | | | |"
          % (f(speed(dpf), "%.1f"), f(None if ratio(dl, dpf) is None else 100 * ratio(dl, dpf), "%.0f"),
             f(med("pieces", "download-passfs", "cpu_s"), "%.2f")))
    w("| CPU-seconds the whole machine used (%d cores): `pieces download` / download beside a local"
      " `cp` / `cp -r` from the mount | %s / %s / %s | — / — / %s | | |"
      % (os.cpu_count(), f(med("pieces", "download", "cpu_s"), "%.2f"),
         f(med("pieces", "download-cp", "cpu_s"), "%.2f"), f(med("pieces", "cp", "cpu_s"), "%.2f"),
         f(med("btfs", "cp", "cpu_s"), "%.2f")))
    w("| peak resident memory of the mount during that `cp` (MiB) | %s | %s | | |"
      % (f(med("pieces", "cp", "rss_mib"), "%.0f"), f(med("btfs", "cp", "rss_mib"), "%.0f")))
    if a.cp_limit:
        r = ratio(dlc, p_cpc)
        w("| `cp -r` from the mount, seeders capped at %.0f MB/s each (MB/s) | %s | — | ≥ 90 %% of"
          " `pieces download` at the same cap (%s MB/s) | %s |"
          % (a.cp_limit / 1e6, f(speed(p_cpc), "%.1f"), f(speed(dlc), "%.1f"),
             met(None if r is None else r >= 0.9)))
    r = ratio(rd_mnt_c, rd_disk_c)
    w("| read complete data through the mount, page cache dropped (MB/s) | %s | — | ≥ 80 %% of"
      " reading the cache file on disk, page cache dropped (%s MB/s) | %s |"
      % (f(rd_mnt_c, "%.0f"), f(rd_disk_c, "%.0f"), met(None if r is None else r >= 0.8)))
    w("| the same, warm: second read through the mount vs the cached file (MB/s) | %s | — |"
      " (%s MB/s; not a target) | |" % (f(rd_mnt, "%.0f"), f(rd_disk, "%.0f")))
    w("")
    w("Good runs: " + ", ".join("%s %s %s" % (t, s, nruns(t, s)) for t, s in
                              sorted({(r["tool"], r["test"]) for r in rows})) + ".")
    w("")
    w("Ratios (pieces ÷ btfs): TTFB %s, sequential %s, cp %s; cp from mount ÷ download speed %s"
      " (capped seeders: %s; download beside a local cp: %s; beside a cp through passfs: %s);"
      " mount ÷ disk read %s cold, %s warm." % (
          f(ratio(p_ttfb, b_ttfb)), f(ratio(p_seq, b_seq), "%.1f"),
          f(ratio(speed(p_cp), speed(b_cp)), "%.1f"), f(ratio(dl, p_cp), "%.2f"),
          f(ratio(dlc, p_cpc), "%.2f"), f(ratio(dl, dcp), "%.2f"), f(ratio(dl, dpf), "%.2f"),
          f(ratio(rd_mnt_c, rd_disk_c), "%.2f"),
          f(ratio(rd_mnt, rd_disk), "%.2f")))
    w("")
    w("<details><summary>every run</summary>")
    w("")
    w("```")
    for r in rows:
        r = dict(r)
        r.pop("stall_list", None)
        w(json.dumps(r))
    w("```")
    w("")
    w("</details>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
