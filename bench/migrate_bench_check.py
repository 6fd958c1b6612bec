#!/usr/bin/env python3
"""Checks the output of `migrate_bench.sh --quick` (the CTest smoke test), so the harness
cannot silently rot: every pair x N x concurrency row is there with no failed id, the
ceiling and per-id loop rows exist, the ratios were computed, and throughput.png is a PNG.

    migrate_bench_check.py OUT_DIR PAIRS SIZES CONCURRENCIES
    e.g. migrate_bench_check.py out systemdb:file,file:systemdb,file:file 100 1,8
"""
import json
import os
import sys


def main():
    out, pairs, sizes, concs = sys.argv[1:5]
    pairs = [p.replace(":", "->") for p in pairs.split(",")]
    sizes = [int(x) for x in sizes.split(",")]
    concs = [int(x) for x in concs.split(",")]
    problems = []
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    rows = {(r["pair"], r["n"], r["concurrency"]): r for r in results["migrate"]
            if r["mode"] == "locked"}
    unlocked = {(r["pair"], r["concurrency"]) for r in results["migrate"]
                if r["mode"] == "unlocked" and r["exit"] == 0 and r["copied"] == max(sizes)}
    for pair in pairs:
        for c in concs:
            if (pair, c) not in unlocked:
                problems.append("no unlocked row for %s c=%d" % (pair, c))
    for pair in pairs:
        for n in sizes:
            for c in concs:
                r = rows.get((pair, n, c))
                if r is None:
                    problems.append("no migrate row for %s N=%d c=%d" % (pair, n, c))
                elif r["exit"] != 0 or r["failed"] or r["copied"] != n or r["verified"] != n:
                    problems.append("bad migrate row %s" % r)
                elif not (r["ids_per_second"] > 0 and r["peak_rss_mib"] > 0 and r["cpu_seconds"] >= 0
                          and r["source_requests"] > 0 and r["destination_requests"] >= n):
                    problems.append("implausible figures %s" % r)
    for kind in sorted({p.split("->")[1] for p in pairs}):
        got = {c["concurrency"] for c in results["ceiling"] if c["to"] == kind and c["ops_per_second"] > 0}
        if got != set(concs):
            problems.append("ceiling rows for %s: concurrencies %s, want %s" % (kind, sorted(got), concs))
    loops = {l["pair"] for l in results["per_id_loop"] if l["ids_per_second"] > 0}
    if loops != set(pairs):
        problems.append("per-id loop rows for %s, want %s" % (sorted(loops), pairs))
    ratio_pairs = {e["pair"] for e in results.get("ratios", {}).get("pairs", [])
                   if "efficiency" in e and "speedup_vs_per_id_loop" in e
                   and "unlocked_efficiency" in e}
    if ratio_pairs != set(pairs):
        problems.append("ratios for %s, want %s" % (sorted(ratio_pairs), pairs))
    for e in results.get("ratios", {}).get("pairs", []):
        # The ceiling is the destination's: efficiency must be measured against it.
        if e["server"] != e["pair"].split("->")[1]:
            problems.append("efficiency of %s measured against %s, not its destination"
                            % (e["pair"], e["server"]))
    if not results.get("local_fs") or results["local_fs"] == "unknown":
        problems.append("the local backends' file system is not recorded: %r"
                        % results.get("local_fs"))
    with open(os.path.join(out, "results.md")) as f:
        md = f.read()
    targets = results.get("ratios", {}).get("targets", [])
    if not any(t["target"].startswith("efficiency") for t in targets) or \
            not any("per-id loop" in t["target"] for t in targets):
        problems.append("targets lack the efficiency or the per-id loop rows: %s" % targets)
    for heading in ("## Migration throughput", "## Ceiling", "## One process per id", "## Ratios",
                    "## Targets"):
        if heading not in md:
            problems.append("results.md lacks '%s'" % heading)
    png = os.path.join(out, "throughput.png")
    if not os.path.exists(png):
        problems.append("no throughput.png")
    else:
        with open(png, "rb") as f:
            head = f.read(8)
        if head != b"\x89PNG\r\n\x1a\n" or os.path.getsize(png) < 1000:
            problems.append("throughput.png is not a PNG image (%r, %d bytes)" % (head, os.path.getsize(png)))
    for p in problems:
        print("FAIL:", p)
    print("%d problem(s)" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
