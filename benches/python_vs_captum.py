"""aumann from Python against Captum's IntegratedGradients, one script, the same array.

    python benches/python_vs_captum.py [N] [THREADS]     (default 1000000 agents, 1 thread)

Needs the aumann package (`pip install .`), torch and captum in the same environment; installs
nothing. Midpoint rule (Captum's riemann_middle), m = 32, zero baseline, float32, the four
analytic indicators of SPEC §3 (Captum's forward functions as in benches/peers/captum_side.py).
Prints seconds (best of three) and the ratio Captum / aumann.
"""
import sys
import time

import numpy as np
import torch
from captum.attr import IntegratedGradients

import aumann

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
torch.set_num_threads(threads)
x_np = np.random.default_rng(7).lognormal(size=(n, 3)).astype(np.float32)
x = torch.from_numpy(x_np).unsqueeze(0)


def comp(z):
    return z.sum(-1)


FORWARD = {
    "linear": lambda z: comp(z).mean(-1),
    "mult": lambda z: torch.log1p(z.mean(1).prod(-1)),
    "variance": lambda z: ((comp(z) - comp(z).mean(-1, keepdim=True)) ** 2).mean(-1),
}


def gini(z):
    c = comp(z)
    m = c.shape[-1]
    s, _ = torch.sort(c, dim=-1)
    i = torch.arange(1, m + 1, dtype=c.dtype)
    return 2 * ((2 * i - m - 1) * s).sum(-1) / (m * (m - 1))


FORWARD["gini"] = gini


def best(f):
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


print(f"[{n}, 3] float32, m = 32, midpoint, zero baseline, {threads} thread(s)")
print("| indicator | aumann (Python) s | Captum IG s | Captum / aumann |")
print("|---|---:|---:|---:|")
for name, f in FORWARD.items():
    ours = best(lambda: aumann.attribute(x_np, name, steps=32, rule="riemann_middle", threads=threads))
    ig = IntegratedGradients(f)
    b = torch.zeros_like(x)
    theirs = best(lambda: ig.attribute(x, baselines=b, n_steps=32, method="riemann_middle"))
    print(f"| {name} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.1f}x |")
