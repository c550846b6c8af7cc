"""JAX (XLA, jit) integrated gradients of the generalised-entropy index GE(2) of the composite,
for side-by-side timing with `cargo bench --bench pooled`.

V(z) = (mean(c^2) / mean(c)^2 - 1) / 2, c_i = sum_k z_ik; baseline: every agent at the step's
coordinate means (V(b) = 0); midpoint rule m = 32; float32.
Usage: python pooled_jax.py X.npy      (X [T, n, d] float32, e.g. from `aumann synth`)
Threads: XLA uses every core unless XLA_FLAGS limits it.
"""
import sys, time, resource
import numpy as np
import jax, jax.numpy as jnp

x = np.load(sys.argv[1]).astype(np.float32)
T, n, d = x.shape


def V(z):  # [n, d] -> scalar
    c = z.sum(-1)
    return 0.5 * ((c * c).mean() / c.mean() ** 2 - 1.0)


g = jax.grad(V)
m = 32
alphas = (jnp.arange(m, dtype=jnp.float32) + 0.5) / m


@jax.jit
def ig_step(xt):  # [n, d] -> [n]
    b = jnp.broadcast_to(xt.mean(0), xt.shape)
    delta = xt - b

    def body(acc, a):
        return acc + g(b + a * delta), None

    acc, _ = jax.lax.scan(body, jnp.zeros_like(xt), alphas)
    return (delta * acc / m).sum(-1)


xs = jnp.asarray(x)
ig_step(xs[0]).block_until_ready()  # compile
t0 = time.perf_counter()
phi = jnp.stack([ig_step(xs[t]) for t in range(T)]).block_until_ready()
sec = time.perf_counter() - t0
Vx = np.array([float(V(xs[t])) for t in range(T)])
gap = np.max(np.abs(np.asarray(phi, np.float64).sum(1) - Vx) / np.abs(Vx))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"jax_pooled T={T} n={n} seconds={sec:.2f} rel_gap={gap:.1e} peak_rss_mb={rss:.0f}")
