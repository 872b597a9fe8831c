"""Encode throughput of toksmith builds side by side (before/after a change).

    python benches/encode_builds.py CORPUS... [--encoding o200k_base] [--repeat 3]
                                    --build NAME=PYTHONPATH [--build NAME=PYTHONPATH ...]

Each corpus is cut into ~4 KB documents at newlines (the first 8 MB). Every round runs each
build in its own process, in turn, so that builds see the same machine state: one thread,
``encode_ordinary`` over every document twice (first pass: text the process has not encoded
before; second pass: warm caches), then ``encode_ordinary_batch`` on all cores. Prints MB/s per
round and the medians; the ids of every build are checked equal (a hash of all ids).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import hashlib, json, sys, time
import numpy as np
import toksmith
from toolkit import corpus
path, name = sys.argv[1], sys.argv[2]
docs = corpus.documents(path)
mb = sum(len(d.encode()) for d in docs) / 1e6
enc = toksmith.get_encoding(name)
out = {}
for label in ("first", "warm"):
    start = time.perf_counter()
    ids = [enc.encode_ordinary(d) for d in docs]
    out[label] = mb / (time.perf_counter() - start)
start = time.perf_counter()
enc.encode_ordinary_batch(docs)
out["batch"] = mb / (time.perf_counter() - start)
out["ids"] = hashlib.sha256(np.concatenate([np.asarray(i, dtype=np.uint32) for i in ids]).tobytes()).hexdigest()[:16]
print(json.dumps(out))
"""


def run(path: str, encoding: str, pythonpath: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([pythonpath, os.path.dirname(os.path.abspath(__file__))]))
    done = subprocess.run([sys.executable, "-c", CHILD, path, encoding], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpora", nargs="+")
    p.add_argument("--encoding", default="o200k_base")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--build", action="append", required=True, metavar="NAME=PYTHONPATH")
    a = p.parse_args()
    builds = [tuple(b.split("=", 1)) for b in a.build]
    print(f"{a.encoding}, MB/s (one thread: first pass / warm; batch on {os.cpu_count()} threads)")
    print("| corpus | round | build | first | warm | batch |\n|---|---|---|---|---|---|")
    for path in a.corpora:
        rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in builds}
        hashes = set()
        for r in range(a.repeat):
            for name, pythonpath in builds:
                res = run(path, a.encoding, pythonpath)
                hashes.add(res["ids"])
                rows[name].append((res["first"], res["warm"], res["batch"]))
                label = os.path.basename(path)
                print(f"| {label} | {r + 1} | {name} | {res['first']:.1f} | {res['warm']:.1f} | {res['batch']:.1f} |",
                      flush=True)
        for name, runs in rows.items():
            med = [statistics.median(col) for col in zip(*runs)]
            print(f"| {os.path.basename(path)} | median | {name} | {med[0]:.1f} | {med[1]:.1f} | {med[2]:.1f} |")
        if len(hashes) != 1:
            print(f"ids DIFFER between builds on {path}: {sorted(hashes)}")
            return 1
    print(f"ids equal across builds; load average (1 min) after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
