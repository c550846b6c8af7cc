"""One sitting, one input: aumann.dask on a LocalCluster against aumann in one process and
against JAX (XLA, jit; the harnesses of benches/peers and benches/pooled_jax.py), so that the
cluster's cost is a ratio, not an absolute time.

    python benches/dask_sitting.py --agents 10000000 --jax /path/to/python-with-jax

The input is `[1, n, 3]` float32 uniform on (0, 1) (seed 7), saved once and read by every
party. Routes: exact variance and Gini from zero (the peer integrates them by the midpoint rule
at m = 32, exact for these two from zero), and GE(2) of the composite from the mean, midpoint,
m = 32, f32 (a formula on the cluster and in one process, `pooled_jax.py` for JAX). Wall time
of the call, best of three; the cluster's includes scheduling and persisting φ on the workers.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time

import numpy as np

import aumann
import aumann.dask as ad
from dask.distributed import Client, LocalCluster

HERE = os.path.dirname(os.path.abspath(__file__))
GE2 = aumann.formula(["c", "c^2"], "(m1 / m0^2 - 1) / 2", name="ge2")


def best(f, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def jax_seconds(python: str, script: str, path: str, pattern: str, cache: dict) -> float | None:
    """The peer's time from its output (each harness run once, its output kept)."""
    if script not in cache:
        cache[script] = subprocess.run([python, script, path, "f32"], capture_output=True,
                                       text=True).stdout
    found = re.search(pattern, cache[script])
    return float(found.group(1)) if found else None


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--agents", type=int, default=10**7)
    p.add_argument("--chunk", type=int, default=10**6)
    p.add_argument("--jax", default=None, help="a python with jax installed")
    a = p.parse_args()
    n = a.agents
    x = np.random.default_rng(7).random((1, n, 3), dtype=np.float32)
    tmp = tempfile.mkdtemp()
    steps, flat = os.path.join(tmp, "x.npy"), os.path.join(tmp, "x2.npy")
    np.save(steps, x)
    np.save(flat, x[0])
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
    client = Client(cluster)
    X = ad.from_npy(steps, a.chunk)
    runs = {
        "variance": (
            lambda: aumann.exact(x, "variance"),
            lambda: ad.attribute(X, "variance"),
            (os.path.join(HERE, "peers", "analytic_jax.py"), r"jax variance \S+ seconds=([\d.]+)"),
        ),
        "gini": (
            lambda: aumann.exact(x, "gini"),
            lambda: ad.attribute(X, "gini"),
            (os.path.join(HERE, "peers", "analytic_jax.py"), r"jax gini \S+ seconds=([\d.]+)"),
        ),
        "ge2 (pooled)": (
            lambda: aumann.explain(x, GE2, baseline="mean", steps=32, precision="f32"),
            lambda: ad.attribute(X, GE2, baseline="mean", steps=32, precision="f32"),
            (os.path.join(HERE, "pooled_jax.py"), r"seconds[^\d]*([\d.]+)"),
        ),
    }
    print(f"n = {n}, d = 3, {-(-n // a.chunk)} chunks, 2 workers × 1 thread")
    print("| route | one process | cluster | JAX | cluster / one process | cluster / JAX |")
    print("|---|---:|---:|---:|---:|---:|")
    outputs: dict = {}
    for name, (single, chunked, (script, pattern)) in runs.items():
        one = best(single)
        many = best(chunked)
        peer = None
        if a.jax:
            path = steps if "pooled" in script else flat
            peer = jax_seconds(a.jax, script, path, pattern, outputs)
        vs_peer = f"{many / peer:.2f}×" if peer else "—"
        peer_text = f"{peer:.3f} s" if peer else "—"
        print(f"| {name} | {one:.3f} s | {many:.3f} s | {peer_text} | {many / one:.2f}× | {vs_peer} |",
              flush=True)
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
