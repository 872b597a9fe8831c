"""Counting pieces on a Dask LocalCluster vs in-process, on one large file.

    python benches/dask_count.py corpora/code_linux_all.txt [--workers 2] [--repeat 2]

Reports: in-process count time (the engine's own threads, one per core), the same count on a
LocalCluster (N worker processes x 1 thread, loopback; cluster start-up timed apart), their
ratio, the tables' sizes (distinct pieces, compact bytes at the pickling level and at the save
level), the reduce (add) tasks and the final fetch to the driver from Dask's task stream, and
checks that both tables are equal. Runs alternate (in-process, cluster, in-process, ...) so
that load from other processes on the machine hits both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--pattern", default="o200k")
    ap.add_argument(
        "--shard-mb", type=int, default=0, help="0: toksmith's default (<= 128 MiB, a multiple of the workers)"
    )
    args = ap.parse_args()

    from distributed import Client, LocalCluster, get_task_stream

    import toksmith

    size = os.path.getsize(args.file)
    here = os.path.dirname(os.path.dirname(toksmith.__file__))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [here, os.environ.get("PYTHONPATH", "")] if p)
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, memory_limit=None)
    client = Client(cluster)
    start_s = time.perf_counter() - t0

    local_t, dask_t, streams = [], [], []
    local = remote = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        local = toksmith.count_pieces(args.file, pattern=args.pattern, progress=False)
        local_t.append(time.perf_counter() - t0)
        del remote
        with get_task_stream(client) as ts:
            t0 = time.perf_counter()
            remote = toksmith.count_pieces(args.file, pattern=args.pattern, client=client,
                                           shard_size=(args.shard_mb << 20) or None, progress=False)
            dask_t.append(time.perf_counter() - t0)
        streams.append(ts.data)
        print(f"in-process {local_t[-1]:.1f} s   dask {dask_t[-1]:.1f} s", file=sys.stderr)
    assert remote == local, "the cluster's table differs from the in-process table"

    distinct, total = local.stats()[0]
    t0 = time.perf_counter()
    fast = local.to_bytes(1)
    fast_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    small = local.to_bytes(6)
    small_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    toksmith.PieceCounts.from_bytes(fast)
    load_s = time.perf_counter() - t0
    raw = sum(len(k) + 8 for k in local.to_dict())
    t0 = time.perf_counter()
    _ = local + local
    add_s = time.perf_counter() - t0

    def phases(stream, prefix):
        comp = [sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute")
                for t in stream if str(t["key"]).startswith(prefix)]
        xfer = [sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "transfer")
                for t in stream if str(t["key"]).startswith(prefix)]
        return comp, xfer

    last = streams[-1]
    count_c, _ = phases(last, "toksmith-count")
    add_c, add_x = phases(last, "toksmith-add")
    mb = size / 1e6
    lm, dm = statistics.median(local_t), statistics.median(dask_t)
    local_list = ", ".join(f"{t:.1f}" for t in local_t)
    dask_list = ", ".join(f"{t:.1f}" for t in dask_t)
    print("\n".join([
        "",
        f"file: {args.file} ({mb:,.0f} MB), pattern {args.pattern}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}",
        f"in-process count_pieces: {local_list} s (median {lm:.1f} s, {mb / lm:.0f} MB/s)",
        f"LocalCluster {args.workers} workers x 1 thread (start-up {start_s:.1f} s, not counted): {dask_list} s "
        f"(median {dm:.1f} s, {mb / dm:.0f} MB/s)",
        f"ratio cluster / in-process: {dm / lm:.2f}",
        f"shards: {len(count_c)} of {size / len(count_c) / (1 << 20):.0f} MiB, count tasks {sum(count_c):.1f} s "
        f"of compute in all (mean {statistics.mean(count_c):.1f} s)",
        f"reduce: {len(add_c)} add tasks, {sum(add_c):.2f} s compute in all (max {max(add_c, default=0):.2f} s), "
        f"{sum(add_x):.2f} s transfers",
        f"table: {distinct:,} distinct pieces, {total:,} pieces counted; raw {raw / 1e6:.1f} MB "
        "(pieces + 8-byte counts)",
        f"compact: {len(fast) / 1e6:.1f} MB at zlib level 1 (pickling; {fast_s:.2f} s to write, "
        f"{load_s:.2f} s to read), {len(small) / 1e6:.1f} MB at level 6 (save; {small_s:.2f} s)",
        f"adding two copies of the table in-process: {add_s:.2f} s",
        "",
    ]))
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
