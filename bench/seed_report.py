#!/usr/bin/python3
"""Turn the seeding benchmark's raw results into a markdown report.

    seed_report.py META.json RESULTS.jsonl

META.json: what was run (date, size, versions, ...). RESULTS.jsonl: one
object per timed run (seeder, run, bytes, status, verified and the fields
written by seed_swarm.py). Prints the report on stdout.

A run counts only when all three leechers completed in time, the seeder
survived and every download compared equal to the source; the table shows
the median of those runs. MB = 10^6 bytes, GB = 10^9 bytes, MiB = 2^20.
"""
import json
import statistics
import sys

NLEECH = 3


def fmt(v, nd=1):
    return "-" if v is None else "%.*f" % (nd, v)


def med(xs):
    return statistics.median(xs) if xs else None


def cpu(r):
    return r["seeder_user"] + r["seeder_sys"]


def summarize(runs):
    ok = [r for r in runs if r["status"] == "ok"]
    s = {"n": len(runs), "ok": len(ok)}
    if not ok:
        s["status"] = ", ".join(sorted({r["status"] for r in runs})) or "not run"
        return s
    s["wall"] = med([r["wall"] for r in ok])
    s["mbps"] = med([NLEECH * r["bytes"] / 1e6 / r["wall"] for r in ok])
    s["cpu"] = med([cpu(r) for r in ok])
    s["user"] = med([r["seeder_user"] for r in ok])
    s["sys"] = med([r["seeder_sys"] for r in ok])
    s["cpu_gb"] = med([cpu(r) / (r["uploaded"] / 1e9) for r in ok])
    s["rss"] = med([r["seeder_hwm_kb"] / 1024 for r in ok])
    s["anon"] = med([r["seeder_anon_peak_kb"] / 1024 for r in ok])
    s["leech"] = med([r["leechers_cpu"] for r in ok])
    s["spread"] = med([max(l["done"] for l in r["leechers"]) -
                       min(l["done"] for l in r["leechers"]) for r in ok])
    s["status"] = "yes" if len(ok) == len(runs) else "FAILED %d/%d" % (
        len(runs) - len(ok), len(runs))
    return s


def main():
    meta = json.load(open(sys.argv[1]))
    runs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
    seeders = meta["seeders"]
    out = []
    w = out.append
    w("# Seeding benchmark, %s" % meta["date"])
    w("")
    w("pieces: %s (source tree at the start of the run: %s); %s; %s" % (
        meta.get("pieces_bin", "?"), meta.get("pieces_version", "?"),
        meta.get("kernel", "?"), meta.get("cpu", "?")))
    w("")
    w("Swarm: one seeder on 127.0.0.1 and %d python3-libtorrent %s leechers "
      "(127.0.0.2-4, default settings, plain text, each admits only the "
      "seeder: no trading among them) that dial it at the same moment, in a "
      "network namespace with only `lo`; no tracker. Torrent: one file, "
      "%.0f MiB, 1 MiB pieces. Each leecher downloads into an empty folder. "
      "The seeder is started and has checked its data before timing starts. "
      "Warm-up: one unreported run (%s). Runs per seeder: %d (median shown). "
      "Seeders: %s." % (
          NLEECH, meta.get("libtorrent", "?"), meta["bytes"] / 2**20,
          meta.get("warmup", "none"), meta["runs"],
          "; ".join(meta.get("versions", []))))
    w("")
    w("| seeder | MB/s | wall s | seeder CPU s (user+sys) | CPU s/GB up "
      "| peak RSS MiB | peak anon MiB | first→last leecher s | leechers CPU s "
      "| verified |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    sums = {}
    for c in seeders:
        s = summarize([r for r in runs if r["seeder"] == c])
        sums[c] = s
        if s["ok"]:
            w("| %s | %s | %s | %s (%s+%s) | %s | %s | %s | %s | %s | %s |" % (
                c, fmt(s["mbps"]), fmt(s["wall"], 2), fmt(s["cpu"], 2),
                fmt(s["user"], 2), fmt(s["sys"], 2), fmt(s["cpu_gb"], 2),
                fmt(s["rss"]), fmt(s["anon"]), fmt(s["spread"], 2),
                fmt(s["leech"], 1), s["status"]))
        else:
            w("| %s | - | - | - | - | - | - | - | - | %s |" % (c, s["status"]))
    w("")
    p = sums.get("pieces")
    others = [c for c in seeders if c != "pieces"]
    if p and p["ok"] and others:
        w("pieces vs. each seeder (speed ratio = pieces MB/s ÷ theirs, >1 means "
          "pieces serves faster; CPU ratio = pieces CPU s/GB ÷ theirs, <1 means "
          "pieces uses less CPU per byte; RSS ratios <1 mean pieces is smaller):")
        w("")
        w("| vs. | speed ratio | CPU/GB ratio | peak RSS ratio | peak anon ratio |")
        w("|---|---:|---:|---:|---:|")
        for c in others:
            o = sums[c]
            if not o["ok"]:
                w("| %s | n/a | n/a | n/a | n/a |" % c)
                continue
            nan = float("nan")
            w("| %s | %.2f | %.2f | %.2f | %.2f |" % (
                c, p["mbps"] / o["mbps"],
                p["cpu_gb"] / o["cpu_gb"] if o["cpu_gb"] else nan,
                p["rss"] / o["rss"] if o["rss"] else nan,
                p["anon"] / o["anon"] if o["anon"] else nan))
        w("")
        lt = sums.get("libtorrent")
        if lt and lt["ok"]:
            goals = [
                ("throughput ≥ libtorrent seeder's", p["mbps"] >= lt["mbps"],
                 "%.1f vs %.1f MB/s" % (p["mbps"], lt["mbps"])),
                ("CPU per GB ≤ libtorrent seeder's", p["cpu_gb"] <= lt["cpu_gb"],
                 "%.2f vs %.2f s/GB" % (p["cpu_gb"], lt["cpu_gb"])),
                ("peak RSS ≤ 64 MiB", p["rss"] <= 64, "%.1f MiB" % p["rss"]),
            ]
            w("Issue 4 target: " + "; ".join(
                "%s: %s (%s)" % (g, "met" if ok else "NOT met", v) for g, ok, v in goals)
              + ".")
            w("")
    w("## Every timed run")
    w("")
    w("| seeder | run | status | wall s | leechers done at s | uploaded MB "
      "| CPU s | peak RSS MiB | peak anon MiB |")
    w("|---|---:|---|---:|---|---:|---:|---:|---:|")
    for r in runs:
        if "wall" not in r:
            w("| %s | %d | %s | - | - | - | - | - | - |" % (r["seeder"], r["run"], r["status"]))
            continue
        w("| %s | %d | %s | %.2f | %s | %.0f | %.2f | %.1f | %.1f |" % (
            r["seeder"], r["run"], r["status"], r["wall"],
            " / ".join(fmt(l.get("done"), 2) for l in r["leechers"]),
            r["uploaded"] / 1e6, cpu(r), r["seeder_hwm_kb"] / 1024,
            r["seeder_anon_peak_kb"] / 1024))
    w("")
    w("MB/s = %d × payload bytes ÷ 10^6 ÷ wall seconds; wall = from the moment "
      "the leechers dial the seeder until the last of them has every piece "
      "hash-checked. Seeder CPU = utime+stime of the seeder process (all its "
      "threads) over that interval, from /proc/PID/stat; CPU s/GB up = that ÷ "
      "payload GB the leechers received (wasted blocks included). Peak RSS = "
      "VmHWM, reset (clear_refs) when timing starts, so the check before it "
      "does not count; peak anon = highest RssAnon sampled every ~20 ms "
      "(libtorrent maps its files, so its RSS counts page cache). Leechers "
      "CPU = the three leechers' CPU time, for information: they share the "
      "2 cores with the seeder. Every download compared byte for byte with "
      "the source; a mismatch is FAILED and not timed." % NLEECH)
    print("\n".join(out))


if __name__ == "__main__":
    main()
