#!/usr/bin/python3
"""Turn the download benchmark's raw results into a markdown report.

    report.py META.json RESULTS.jsonl

META.json: what was run (date, sizes, versions, ...). RESULTS.jsonl: one
object per timed run (client, torrent, run, bytes, status, verified and the
fields written by runone.py). Prints the report on stdout.

A run counts only when it finished in time, exited as expected and its data
compared equal to the source; the table shows the median of those runs.
MB = 10^6 bytes, GB = 10^9 bytes, MiB = 2^20 bytes.
"""
import json
import statistics
import sys


def fmt(v, nd=1):
    return "-" if v is None else "%.*f" % (nd, v)


def med(xs):
    return statistics.median(xs) if xs else None


def summarize(runs):
    ok = [r for r in runs if r["status"] == "ok"]
    s = {"n": len(runs), "ok": len(ok)}
    if not ok:
        s["status"] = ", ".join(sorted({r["status"] for r in runs})) or "not run"
        return s
    s["wall"] = med([r["wall"] for r in ok])
    s["mbps"] = med([r["bytes"] / 1e6 / r["wall"] for r in ok])
    s["cpu"] = med([r["user"] + r["sys"] for r in ok])
    s["user"] = med([r["user"] for r in ok])
    s["sys"] = med([r["sys"] for r in ok])
    s["cpu_gb"] = med([(r["user"] + r["sys"]) / (r["bytes"] / 1e9) for r in ok])
    s["rss"] = med([r["maxrss_kb"] / 1024 for r in ok])
    s["anon"] = med([r["anon_peak_kb"] / 1024 for r in ok])
    s["seed"] = med([r["watched_cpu"] for r in ok])
    s["status"] = "yes" if len(ok) == len(runs) else "FAILED %d/%d" % (
        len(runs) - len(ok), len(runs))
    return s


def main():
    meta = json.load(open(sys.argv[1]))
    runs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
    clients = meta["clients"]
    out = []
    w = out.append
    w("# Download benchmark, %s" % meta["date"])
    w("")
    w("pieces: %s (source tree at the start of the run: %s); %s; %s" % (
        meta.get("pieces_bin", "?"), meta.get("pieces_version", "?"),
        meta.get("kernel", "?"), meta.get("cpu", "?")))
    w("")
    w("Swarm: opentracker + 3 python3-libtorrent %s seeders (127.0.0.2-4) in a "
      "network namespace with only `lo`; each client downloads into an empty "
      "folder, one at a time, after an unreported warm-up (%s). Runs per "
      "client and torrent: %d (median shown). Clients: %s." % (
          meta.get("libtorrent", "?"), meta.get("warmup", "none"),
          meta["runs"], "; ".join(meta.get("versions", []))))
    w("")
    for t in meta["torrents"]:
        w("## %s: %s (%.0f MiB, %d file%s, %d KiB pieces)" % (
            t["key"], t["desc"], t["bytes"] / 2**20, t["files"],
            "" if t["files"] == 1 else "s", t["piece_kib"]))
        w("")
        w("| client | MB/s | wall s | CPU s (user+sys) | CPU s/GB | peak RSS MiB "
          "| peak anon MiB | seeders CPU s | verified |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        sums = {}
        for c in clients:
            rs = [r for r in runs if r["client"] == c and r["torrent"] == t["key"]]
            s = summarize(rs)
            sums[c] = s
            if s["ok"]:
                w("| %s | %s | %s | %s (%s+%s) | %s | %s | %s | %s | %s |" % (
                    c, fmt(s["mbps"]), fmt(s["wall"], 2), fmt(s["cpu"], 2),
                    fmt(s["user"], 2), fmt(s["sys"], 2), fmt(s["cpu_gb"], 2),
                    fmt(s["rss"]), fmt(s["anon"]), fmt(s["seed"], 1), s["status"]))
            else:
                w("| %s | - | - | - | - | - | - | - | %s |" % (c, s["status"]))
        w("")
        p = sums.get("pieces")
        others = [c for c in clients if c != "pieces"]
        if p and p["ok"] and others:
            w("pieces vs. each client (speed ratio = pieces MB/s ÷ theirs, >1 "
              "means pieces is faster; CPU ratio = pieces CPU s ÷ theirs, <1 "
              "means pieces uses less CPU):")
            w("")
            w("| vs. | speed ratio | CPU ratio | peak RSS ratio |")
            w("|---|---:|---:|---:|")
            for c in others:
                o = sums[c]
                if not o["ok"]:
                    w("| %s | n/a | n/a | n/a |" % c)
                    continue
                w("| %s | %.2f | %.2f | %.2f |" % (
                    c, p["mbps"] / o["mbps"],
                    p["cpu"] / o["cpu"] if o["cpu"] else float("nan"),
                    p["rss"] / o["rss"] if o["rss"] else float("nan")))
            w("")
    bad = [r for r in runs if r["status"] != "ok"]
    if bad or meta["runs"] > 1:
        w("## Every timed run")
        w("")
        w("| client | torrent | run | status | wall s | CPU s | peak RSS MiB | exit |")
        w("|---|---|---:|---|---:|---:|---:|---:|")
        for r in runs:
            w("| %s | %s | %d | %s | %.2f | %.2f | %.1f | %s |" % (
                r["client"], r["torrent"], r["run"], r["status"], r["wall"],
                r["user"] + r["sys"], r["maxrss_kb"] / 1024, r["exit"]))
        w("")
    w("MB/s = payload bytes ÷ 10^6 ÷ wall seconds, wall = client start to all "
      "data complete and verified by the client (its exit; for transmission-cli "
      "its torrent-done script). CPU = user+sys of the client process (and "
      "children it reaped), from wait4(). Peak RSS = ru_maxrss; peak anon = "
      "highest RssAnon sampled every ~20 ms (excludes mapped file pages). "
      "Seeders CPU = CPU used by the three seeders during the run (both share "
      "the 2 cores). Data compared byte for byte against the source after the "
      "client exited; a mismatch is FAILED and not timed.")
    print("\n".join(out))


if __name__ == "__main__":
    main()
