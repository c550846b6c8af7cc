"""aumann.dask on a LocalCluster: a population generated chunk by chunk in the workers (never
whole in one process), attributed by the exact variance, the exact Gini and a pooled indicator;
wall time, peak memory per worker, efficiency, and the bytes the workers sent each other (Dask's
own counter) against the analytic estimate. With ``--check`` it also attributes a smaller
population in one process and compares.

    python benches/dask_cluster.py --agents 100000000 --chunk 1000000 --workers 2
    python benches/dask_cluster.py --agents 10000000 --chunk 1000000 --workers 2 --check
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import numpy as np

import aumann
import aumann.dask as ad
import dask.array as da
from dask.distributed import Client, LocalCluster


def sent(client: Client) -> int:
    """Bytes the workers have sent (to each other and to the client) since they started."""
    return sum(client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total).values())


class PeakMemory:
    """The largest resident memory of each worker process, sampled every 0.2 s."""

    def __init__(self, client: Client):
        self.client, self.peak, self.stop = client, {}, threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        import psutil  # noqa: PLC0415

        def rss() -> int:
            return psutil.Process().memory_info().rss

        while not self.stop.is_set():
            for worker, value in self.client.run(rss).items():
                self.peak[worker] = max(self.peak.get(worker, 0), value)
            time.sleep(0.2)

    def done(self) -> list[int]:
        self.stop.set()
        self.thread.join()
        return sorted(self.peak.values())


def estimate(route: str, n: int, chunks: int, d: int, m: int, k: int) -> float:
    """Bytes between processes the route needs, by its design (module docs of aumann.dask):
    the population's sums up and down per chunk, plus, for the Gini, every composite to its
    bucket and its rank back (16 bytes per agent) and each chunk's ranks to its φ task."""
    if route == "gini":
        return 16 * n + 8 * chunks * 4 * chunks
    if route == "pooled":
        return chunks * 8 * ((m + 2) * k + m * k)
    return chunks * 8 * (2 * d + 2 * d + 2)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--agents", type=int, default=10**8)
    p.add_argument("--chunk", type=int, default=10**6)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--check", action="store_true", help="compare with one process")
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    p.add_argument("--no-stealing", action="store_true",
                   help="turn Dask's work stealing off (no chunk moved to balance load)")
    a = p.parse_args()
    if a.no_stealing:
        import dask  # noqa: PLC0415

        dask.config.set({"distributed.scheduler.work-stealing": False})
    n, d, chunks = a.agents, 3, -(-a.agents // a.chunk)
    cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, dashboard_address=None)
    client = Client(cluster)
    X = da.random.default_rng(7).random((1, n, d), chunks=(1, a.chunk, d), dtype=np.float32)
    runs = [
        ("variance", dict(indicator="variance", baseline="mean")),
        ("gini", dict(indicator="gini", baseline="zero")),
        ("pooled", dict(indicator="theil", baseline="mean", rule="gauss", steps=16)),
    ]
    figures = []
    for route, kwargs in runs:
        before, memory, start = sent(client), PeakMemory(client), time.perf_counter()
        result = ad.attribute(X, **kwargs)
        wall = time.perf_counter() - start
        peaks = memory.done()
        moved = sent(client) - before
        row = {
            "route": route,
            "indicator": kwargs["indicator"],
            "agents": n,
            "chunks": chunks,
            "workers": a.workers,
            "seconds": round(wall, 2),
            "peak_worker_rss_mib": [round(v / 2**20) for v in peaks],
            "relative_efficiency_gap": result.summary["relative_efficiency_gap"],
            "bytes_sent": moved,
            "bytes_estimated": estimate(route, n, chunks, d, 16, 2),
        }
        if a.check:
            x = X.compute()
            want = aumann.explain(
                x, kwargs["indicator"], baseline=kwargs["baseline"],
                method="exact" if route != "pooled" else "path",
                rule=kwargs.get("rule", "midpoint"), steps=kwargs.get("steps", 32),
                precision="f64" if route != "pooled" else "f32",
            )
            got = result.values.compute()
            row["max_relative_difference"] = float(
                np.abs(got - want.values).max() / np.abs(want.values).max()
            )
        print(json.dumps(row), flush=True)
        figures.append(row)
        del result
        client.run(lambda: __import__("gc").collect())
    if a.out:
        with open(a.out, "w") as f:
            json.dump(figures, f, indent=1)
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
