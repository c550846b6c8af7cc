"""aumann on Dask: populations chunked over agents, attributed where the chunks live.

``X`` is a ``dask.array`` of shape ``[T, n, d]`` (or ``[n, d]``), chunked over agents and, if
wished, over steps; ``d`` is one chunk. Every task calls the Rust engine on its chunk (the GIL
released, ``threads`` engine threads per task, 1 by default: one per Dask worker thread), and
only the population's statistics move between workers:

=================  =========================================================================
route              what moves per step
=================  =========================================================================
exact forms        each chunk's column sums of ``x`` and ``b`` (``2d`` floats) up, the means
(linear, mult,     down; the variance's and Gini's values need one more sum per chunk
variance, gini)    (gini: a sample sort of the composites: every value once to its bucket's
                   task and its midrank back, ``16`` bytes per agent, plus ``O(P²)`` samples)
pooled indicators  each chunk's sums of ψ at the ``m`` points, at ``x`` and at ``b``
(formulas, theil,  (``(m + 2) k`` floats) up, the shared vectors ``g_j`` (``m k`` floats) down
atkinson, …)
=================  =========================================================================

φ comes back as a dask array chunked like ``X`` without its last axis; nothing larger than a
chunk is ever in one place. Memory per worker: a chunk of ``X`` and its baseline, a chunk of
φ (``8`` bytes per agent and step), and the engine's working set (a few values per agent).

On a laptop::

    from dask.distributed import Client, LocalCluster
    client = Client(LocalCluster(n_workers=4, threads_per_worker=1))
    a = aumann.dask.attribute(X, "variance", baseline="mean")

On a cluster, the same code with a ``dask_jobqueue`` cluster (``SLURMCluster``, …) or
``dask_kubernetes``; aumann must be installed in the workers' environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import contextlib
import operator
import os
from pathlib import Path
from typing import Any

import numpy as np

import dask
import dask.array as da
from dask.highlevelgraph import HighLevelGraph

from . import AumannError, InputError, _call, _count, _rule, _rust, _steps, _text

__all__ = [
    "attribute",
    "from_npy",
    "from_npy_chunks",
    "from_zarr",
    "panel_attributions",
    "DaskAttribution",
    "EXACT",
]

#: The indicators with exact forms on chunks.
EXACT = ("linear", "mult", "variance", "gini")


@dataclass
class DaskAttribution:
    """φ (``[T, n]``, a dask array chunked like X) and the per-step summary, computed without
    gathering X: ``v_x``, ``v_b``, and where φ was summed (``persist=True``) ``total`` (Σ_i φ),
    ``efficiency_gap`` (total − (V(x) − V(b))) and ``relative_efficiency_gap``."""

    values: Any
    summary: dict = field(default_factory=dict)


def _as_dask(X: Any) -> Any:
    if not isinstance(X, da.Array):
        raise InputError(
            f"X is a {type(X).__name__}; aumann.dask takes a dask.array (aumann.explain takes "
            "an in-memory array)"
        )
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or 0 in X.shape or any(np.isnan(s) for s in X.shape):
        raise InputError(f"X has shape {X.shape}; expected [n, d] or [T, n, d] with known sizes")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[2]) > 1:
        X = X.rechunk({2: -1})
    if 0 in X.chunks[0] or 0 in X.chunks[1]:
        # Empty blocks (left by filtering) hold no agents: dropped.
        X = X.rechunk(tuple(tuple(c for c in axis if c) for axis in X.chunks))
    return X


def _baseline(X: Any, baseline: Any) -> tuple[Any, np.ndarray | None]:
    """The baseline as a dask array ``[1 or T, 1 or n, d]`` in float64 chunked like X, and the
    point every agent shares at every step (``[1 or T, d]``), or None where agents have their
    own."""
    T, n, d = X.shape
    if baseline is None or (isinstance(baseline, str) and baseline == "zero"):
        point = np.zeros((1, d))
    elif isinstance(baseline, str) and baseline == "mean":
        point = X.astype(np.float64).mean(axis=1).compute()
        _refuse_overflow("X's mean over agents (a value is NaN, infinite or too large)",
                         np.isfinite(point).all(axis=1))
    elif isinstance(baseline, str) and baseline == "first":
        b = X[:1].astype(np.float64).rechunk({0: 1, 1: X.chunks[1]})
        return b, None
    elif isinstance(baseline, str) and baseline == "previous":
        b = da.concatenate([X[:1], X[:-1]], axis=0).astype(np.float64)
        return b.rechunk(X.chunks), None
    elif isinstance(baseline, str):
        raise InputError(
            f"baseline {baseline!r}: expected 'zero', 'mean', 'first', 'previous', a number or "
            "an array ([d], [n, d] or [T, n, d])"
        )
    elif np.ndim(baseline) == 0 and not isinstance(baseline, da.Array):
        point = np.full((1, d), float(baseline))
    else:
        b = baseline if isinstance(baseline, da.Array) else np.asarray(baseline, np.float64)
        shapes = {(d,): (1, 1, d), (n, d): (1, n, d), (T, n, d): (T, n, d)}
        if tuple(b.shape) not in shapes:
            raise InputError(
                f"baseline has shape {list(b.shape)}; expected [{d}], [{n}, {d}] or "
                f"[{T}, {n}, {d}] to match X"
            )
        shape = shapes[tuple(b.shape)]
        if shape == (1, 1, d):
            point = np.asarray(b, np.float64).reshape(1, d)
        else:
            b = da.asarray(b).astype(np.float64).reshape(shape)
            chunks = (X.chunks[0] if shape[0] == T else (1,), X.chunks[1], (d,))
            return b.rechunk(chunks), None
    if not np.all(np.isfinite(point)):
        raise InputError("the baseline has a value that is not finite")
    chunks = (X.chunks[0] if len(point) == T else (1,), (1,), (d,))
    return da.from_array(point[:, None, :], chunks=chunks), point


def _per_block(X: Any, width: int) -> tuple:
    """Chunks of a ``[T, agent chunks, width]`` array: one row of sums per block."""
    return (X.chunks[0], (1,) * len(X.chunks[1]), (width,))


def _sums(X: Any, b: Any, function: Any, width: int, **kwargs: Any) -> np.ndarray:
    """Σ over agent chunks of ``function``'s ``[Tc, width]`` per block: ``[T, width]``."""

    def one(x: np.ndarray, b: np.ndarray, t0: int, t1: int) -> np.ndarray:
        return function(x, b, t0, t1, **kwargs).reshape(t1 - t0, 1, width)

    def run(x: np.ndarray, b: np.ndarray, block_info: Any = None) -> np.ndarray:
        t0, t1 = block_info[0]["array-location"][0]
        with _in_block(block_info):
            return one(np.ascontiguousarray(x), np.ascontiguousarray(b), t0, t1)

    per_block = da.map_blocks(run, X, _broadcast(X, b), chunks=_per_block(X, width),
                              dtype=np.float64)
    return per_block.sum(axis=1).compute()


def _broadcast(X: Any, b: Any) -> Any:
    """The baseline with X's chunk structure along steps and agents (a shared one stays one
    agent per block: each block's baseline is ``[Tc, 1, d]``)."""
    T = X.shape[0]
    if b.shape[0] == 1 and T > 1:
        b = da.broadcast_to(b, (T,) + b.shape[1:], chunks=(X.chunks[0],) + b.chunks[1:])
    if b.shape[1] == 1:
        # One agent's baseline repeated per agent block: a [.., P, d] array of P copies.
        b = da.concatenate([b] * len(X.chunks[1]), axis=1).rechunk({1: 1})
    return b


def attribute(
    X: Any,
    indicator: str = "variance",
    *,
    model: str | None = None,
    baseline: Any = None,
    method: str | None = None,
    rule: str = "midpoint",
    steps: int = 32,
    precision: str | None = None,
    threads: int | None = 1,
    persist: bool = True,
) -> DaskAttribution:
    """Attribute ``V`` of a chunked population ``X`` to its agents, chunk by chunk.

    ``indicator``: ``linear``, ``mult``, ``variance``, ``gini`` (exact forms; ``gini`` from a
    baseline every agent shares: ``zero``, ``mean``, a number or a ``[d]`` array), or a
    pooled indicator — a registry name such as ``theil`` or ``atkinson(epsilon=2)``, a
    :class:`aumann.Formula`, a :class:`aumann.DeepSet`, or a folder holding either — by the
    path integral (``rule``, ``steps``; a DeepSet's ψ and ρ on dual numbers from its
    weights). ``method``: ``exact`` (default for the analytic four) or ``path``.
    ``baseline`` as in :func:`aumann.explain` (an array may be a dask array). ``precision``:
    of the pooled route's ψ (default: X's dtype); the exact forms are f64. ``threads``:
    engine threads per task (``None``: every core of the worker). With ``persist``, φ is
    computed and kept on the workers, and the summary has the efficiency gap.
    """
    from . import DeepSet, Formula  # noqa: PLC0415 (the package imports this module lazily)

    X = _as_dask(X)
    T, n, d = X.shape
    b, point = _baseline(X, baseline)
    if isinstance(indicator, (str, os.PathLike)) and os.path.isdir(indicator):
        folder = Path(indicator)
        indicator = Formula.load(folder) if (folder / "indicator.json").is_file() else "deepset"
        model = None if isinstance(indicator, Formula) else str(folder)
    if isinstance(indicator, DeepSet):
        indicator, model = "deepset", indicator._folder()
    if isinstance(indicator, Formula):
        indicator, model = "formula", indicator.definition
    name = _text("indicator", indicator)
    method = method or ("exact" if name in EXACT else "path")
    if (name, method) == ("gini", "path") and point is not None:
        # From a shared baseline no two agents' paths cross: the ranks, and with them each
        # agent's gradient, are constant along the path, so every rule integrates it exactly.
        method = "exact"
    if method == "exact":
        if name not in EXACT:
            raise InputError(
                f"indicator {name!r} has no exact form on chunks; the exact forms are "
                f"{', '.join(EXACT)} (use method='path' for a pooled indicator)"
            )
        phi, summary = _exact(X, b, point, name, threads)
    elif method == "path":
        spec = _pooled_form(name, d) or (name, None if model is None else str(model))
        precision = precision or ("f64" if X.dtype == np.float64 else "f32")
        phi, summary = _pooled(X, b, point, spec, _rule(rule), _steps(steps), precision, threads)
    else:
        raise InputError(f"method {method!r}: expected 'exact' or 'path'")
    summary.update(n=n, d=d, T=T, indicator=name, method=method, chunks=[len(c) for c in X.chunks[:2]])
    if persist:
        # One graph for both: φ kept on the workers, its sums brought back.
        phi, total = dask.persist(phi, phi.sum(axis=1))
        total = total.compute()
        change = np.asarray(summary["v_x"]) - np.asarray(summary["v_b"])
        gap = total - change
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(change != 0, np.abs(gap) / np.abs(change), np.nan)
        summary.update(
            total=total.tolist(),
            efficiency_gap=gap.tolist(),
            relative_efficiency_gap=[None if np.isnan(r) else float(r) for r in relative],
        )
    return DaskAttribution(phi, summary)


# --- the exact forms ---------------------------------------------------------------------


def _exact(
    X: Any, b: Any, point: Any, name: str, threads: Any, idle_is_zero: bool = False
) -> tuple[Any, dict]:
    """The exact forms on chunks. With ``idle_is_zero``, a ``mult`` step with no activity in
    some coordinate (its mean 0, so ``V = ln(1 + 0)`` along the whole path) has ``φ = 0``, the
    closed form's continuous limit, as the study takes it; otherwise it is refused."""
    T, n, d = X.shape
    if name == "gini" and point is None:
        raise InputError(
            "gini: the exact form on chunks needs a baseline every agent shares (zero, mean, a "
            "number or a [d] array); from per-agent baselines ranks cross along the path"
        )

    def column_sums(x, b, t0, t1):
        return _call(_rust.chunk_exact_sums, x, b).reshape(t1 - t0, 2 * d)

    sums = _sums(X, b, column_sums, 2 * d)
    means = (sums / n).reshape(T, 2, d)
    # Kept on the workers: φ and V(x) both read them.
    composites = X.sum(axis=2, dtype=np.float64).persist() if name == "gini" else None
    if composites is not None:
        _refuse_overflow("an agent's composite", da.isfinite(composites).all(axis=1).compute())
    ranks = _midranks(composites).persist() if name == "gini" else None

    idle = (means[:, 0] == 0).any(axis=1) if (idle_is_zero and name == "mult") else np.zeros(T, bool)

    def phi_block(x, b, t0, t1, ranks=None):
        r = None if ranks is None else np.ascontiguousarray(ranks)
        active = ~idle[t0:t1]
        if active.all():
            return _call(_rust.chunk_exact_phi, name, x, b, n, np.ascontiguousarray(means[t0:t1]), r, threads)
        phi = np.zeros(x.shape[:2])
        if active.any():
            rows = lambda a: np.ascontiguousarray(a[active] if len(a) > 1 else a)  # noqa: E731
            phi[active] = _call(_rust.chunk_exact_phi, name, rows(x), rows(b), n,
                                rows(means[t0:t1]), r, threads)
        return phi

    bb = _broadcast(X, b)
    if ranks is None:
        phi = da.map_blocks(_located(phi_block), X, bb, dtype=np.float64, drop_axis=2,
                            meta=np.empty((0, 0)))
    else:
        phi = da.map_blocks(_located(phi_block, ranked=True), X, bb, ranks[:, :, None],
                            dtype=np.float64, drop_axis=2, meta=np.empty((0, 0)))
    v_x, v_b = _exact_values(X, b, name, means, ranks, composites)
    _refuse_overflow("V(x)", np.isfinite(v_x))
    _refuse_overflow("V(b)", np.isfinite(v_b))
    return phi, {"v_x": v_x, "v_b": v_b}


def _refuse_overflow(what: str, finite: np.ndarray) -> None:
    """Refuse the first step where ``what`` is not finite, as the engine does."""
    bad = np.flatnonzero(~np.asarray(finite))
    if len(bad):
        raise InputError(
            f"{what} at step {bad[0]} is not finite: the values overflow f64; rescale the "
            "features"
        )


def _located(function: Any, ranked: bool = False) -> Any:
    """``function(x, b, t0, t1[, ranks])`` as a ``map_blocks`` function of X's blocks."""

    def run(x, b, *rest, block_info=None):
        t0, t1 = block_info[0]["array-location"][0]
        x, b = np.ascontiguousarray(x), np.ascontiguousarray(b)
        with _in_block(block_info):
            if ranked:
                return function(x, b, t0, t1, ranks=rest[0][:, :, 0])
            return function(x, b, t0, t1)

    return run


@contextlib.contextmanager
def _in_block(block_info: Any):
    """An engine error in a task, its message prefixed with the block of X it came from (the
    engine counts steps and agents from the block's first)."""
    try:
        yield
    except AumannError as e:
        (t0, t1), (a0, a1) = block_info[0]["array-location"][:2]
        raise type(e)(f"X[{t0}:{t1}, {a0}:{a1}] (steps and agents counted from there): {e}") from None


def _exact_values(
    X: Any, b: Any, name: str, means: np.ndarray, ranks: Any, c: Any
) -> tuple[list, list]:
    """``V(x)`` and ``V(b)`` of every step from the means (and one more sum for the variance
    and the Gini)."""
    T, n, d = X.shape
    x_means, b_means = means[:, 0], means[:, 1]
    if name == "linear":
        return x_means.sum(1).tolist(), b_means.sum(1).tolist()
    if name == "mult":
        return np.log1p(x_means.prod(1)).tolist(), np.log1p(b_means.prod(1)).tolist()
    c_mean, beta_mean = x_means.sum(1), b_means.sum(1)
    if name == "variance":

        def spread(x, b, t0, t1):
            c = x.sum(axis=2, dtype=np.float64)
            beta = np.broadcast_to(b.sum(axis=2, dtype=np.float64), c.shape)
            return np.stack([((c - c_mean[t0:t1, None]) ** 2).sum(1),
                             ((beta - beta_mean[t0:t1, None]) ** 2).sum(1)], axis=1)

        s = _sums(X, b, spread, 2)
        return (s[:, 0] / n).tolist(), (s[:, 1] / n).tolist()
    # gini: Σ_{i≠j}|c_i − c_j| = 2 Σ_i (2ρ_i − n − 1) c_i; a shared baseline has no spread.
    weighted = ((2 * ranks - n - 1) * c).sum(axis=1).compute()
    return (2 * weighted / (n * (n - 1))).tolist(), [0.0] * T


# --- the Gini's midranks: a sample sort of the composites ---------------------------------


def _midranks(c: Any) -> Any:
    """Each agent's midrank (1-based, ties averaged) among its step's composites, ``[T, n]``
    chunked like ``c`` (the composites): a sample sort. With ``P`` agent blocks, ``P − 1``
    splitters per step cut the values into ``P`` open intervals, whose values move to one task
    each and come back as ranks within it, and the splitters themselves, whose (possibly many)
    copies are only counted where they lie. The tasks form one graph layer (``O(P²)`` small
    tasks per chunk of steps, each piece a task of its own so that no task reads more than one
    block's values of an interval)."""
    name = "aumann-midranks-" + dask.base.tokenize(c)
    graph: dict = {}
    for i in range(len(c.chunks[0])):
        graph.update(_midrank_tasks(name, c.name, i, len(c.chunks[1])))
    layer = HighLevelGraph.from_collections(name, graph, dependencies=[c])
    return da.Array(layer, name, c.chunks, dtype=np.float64)


def _midrank_tasks(name: str, source: str, i: int, P: int) -> dict:
    """The tasks of the midranks of the ``i``-th chunk of steps, whose ``P`` agent blocks are
    ``(source, i, j)``; the ranks of block ``j`` at ``(name, i, j)``. Every task serves all the
    steps of the chunk: ``O(P²)`` tasks whatever its length."""
    key = lambda what, *at: (f"{name}-{what}", i, *at)  # noqa: E731
    g: dict = {}
    for j in range(P):
        g[key("sorted", j)] = (_sorted, (source, i, j))
        g[key("samples", j)] = (_samples, key("sorted", j), 4 * P)
        g[key("split", j)] = (_split, key("sorted", j), key("splitters"))
        g[key("counts", j)] = (operator.getitem, key("split", j), 1)
        for k in range(P):
            g[key("piece", j, k)] = (_piece, key("split", j), k)
    g[key("splitters")] = (_splitters, [key("samples", j) for j in range(P)], P)
    g[key("offsets")] = (_bucket_offsets, [key("counts", j) for j in range(P)])
    for k in range(P):
        g[key("within", k)] = (_interval_ranks, [key("piece", j, k) for j in range(P)])
        for j in range(P):
            g[key("ranked", j, k)] = (operator.getitem, key("within", k), j)
    for j in range(P):
        ranked = [key("ranked", j, k) for k in range(P)]
        g[(name, i, j)] = (_assemble, (source, i, j), key("counts", j), key("offsets"), ranked)
    return g


def _sorted(block: np.ndarray) -> np.ndarray:
    """Each row sorted."""
    return np.sort(block, axis=1)


def _piece(split: tuple, k: int) -> list:
    """Interval ``k``'s values of a block's split, one array per step."""
    return split[0][k]


def _samples(s: np.ndarray, q: int) -> np.ndarray:
    """``q`` regularly spaced values of each sorted row."""
    at = np.linspace(0, s.shape[1] - 1, q).round().astype(int)
    return s[:, at]


def _splitters(samples: list, P: int) -> np.ndarray:
    """Per step, ``P − 1`` ascending distinct splitters from the pooled samples, padded with
    ``+inf`` where there are fewer distinct values: ``[steps, P − 1]``."""
    pooled = np.sort(np.concatenate(samples, axis=1), axis=1)
    at = np.linspace(0, pooled.shape[1] - 1, P + 1)[1:-1].round().astype(int)
    out = np.full((pooled.shape[0], P - 1), np.inf)
    for t, row in enumerate(pooled):
        u = np.unique(row[at])
        out[t, : len(u)] = u
    return out


def _split(s: np.ndarray, splitters: np.ndarray) -> tuple:
    """A sorted block by bucket: the values of interval ``k`` (below splitter ``k``, above
    splitter ``k − 1``) of every step at ``[k][t]``, and the counts ``[steps, 2P − 1]`` of
    buckets interval 0, splitter 0, interval 1, …."""
    intervals = splitters.shape[1] + 1
    pieces, counts = [[] for _ in range(intervals)], []
    for row, u in zip(s, splitters):
        lo, hi = np.searchsorted(row, u, "left"), np.searchsorted(row, u, "right")
        edges = np.concatenate([[0], np.stack([lo, hi], 1).ravel(), [len(row)]])
        for k in range(intervals):
            pieces[k].append(row[edges[2 * k]:edges[2 * k + 1]])
        counts.append(np.diff(edges))
    return pieces, np.array(counts)


def _bucket_offsets(counts: list) -> tuple:
    """The population's count in every bucket, ``[steps, 2P − 1]``, and the number below it."""
    total = np.sum(counts, axis=0)
    below = np.concatenate([np.zeros((len(total), 1)), np.cumsum(total, axis=1)[:, :-1]], axis=1)
    return total, below


def _interval_ranks(pieces: list) -> list:
    """Every block's values' midranks within one interval, step by step (the interval's values
    from every block merged): ``[block][step]``."""
    ranks: list = [[] for _ in pieces]
    for t in range(len(pieces[0])):
        merged = np.sort(np.concatenate([p[t] for p in pieces]))
        for j, p in enumerate(pieces):
            below = np.searchsorted(merged, p[t], "left")
            equal = np.searchsorted(merged, p[t], "right") - below
            ranks[j].append(below + (equal + 1) / 2)
    return ranks


def _assemble(block: np.ndarray, counts: np.ndarray, offsets: tuple, within: list) -> np.ndarray:
    """A block's midranks in its agents' order, from its counts per bucket, the population's
    bucket offsets and its values' ranks within each interval (``within[k][t]``)."""
    total, below = offsets
    P = (counts.shape[1] + 1) // 2
    ranks = np.empty(block.shape)
    for t, row in enumerate(block):
        sorted_ranks = []
        for k in range(P):
            sorted_ranks.append(below[t, 2 * k] + within[k][t])
            if k < P - 1:
                tie = below[t, 2 * k + 1] + (total[t, 2 * k + 1] + 1) / 2
                sorted_ranks.append(np.full(counts[t, 2 * k + 1], tie))
        ranks[t, np.argsort(row, kind="stable")] = np.concatenate(sorted_ranks)
    return ranks


# --- the pooled route ----------------------------------------------------------------------


def _pooled_form(name: str, d: int) -> tuple | None:
    """The pooled form ``ρ(mean ψ)`` of an analytic indicator, for its path integral on chunks:
    linear ψ = c, ρ = m₀; variance ψ = (c, c²), ρ = m₁ − m₀²; mult ψ = x, ρ = ln(1 + Π_k m_k).
    The Gini is not pooled: from a shared baseline its path integral is its exact form."""
    from . import formula  # noqa: PLC0415

    forms = {
        "linear": (["c"], "m0"),
        "variance": (["c", "c^2"], "m1 - m0^2"),
        "mult": ([f"x{k}" for k in range(d)], f"ln(1 + {' * '.join(f'm{k}' for k in range(d))})"),
    }
    if name == "gini":
        raise InputError(
            "gini on chunks needs a baseline every agent shares (zero, mean, a number or a [d] "
            "array): from per-agent baselines ranks cross along the path, and the Gini is not "
            "a pooled indicator"
        )
    if name not in forms:
        return None
    psi, rho = forms[name]
    return ("formula", formula(psi, rho, name=name).definition)


def _pooled(X, b, point, spec, rule, steps, precision, threads) -> tuple[Any, dict]:
    T, n, d = X.shape
    nodes, weights = _call(_rust.quadrature, rule, steps)
    k = _call(_rust.pooled_width, spec, d)
    m = len(nodes)

    def pool(x, b, t0, t1):
        out = _call(_rust.chunk_pooled_sums, x, spec, b, nodes, precision, threads)
        return out.reshape(t1 - t0, (m + 2) * k)

    sums = _sums(X, b, pool, (m + 2) * k).reshape(T, m + 2, k)
    common = None if point is None else np.ascontiguousarray(point)
    values, shared = _call(_rust.pooled_shared, spec, d, sums, n, weights, common)

    def phi_block(x, b, t0, t1):
        g = np.ascontiguousarray(shared[t0:t1])
        return _call(_rust.chunk_pooled_phi, x, spec, b, nodes, g, precision, threads)

    phi = da.map_blocks(_located(phi_block), X, _broadcast(X, b), dtype=np.float64, drop_axis=2,
                        meta=np.empty((0, 0)))
    summary = {"v_x": values[:, 0].tolist(), "v_b": values[:, 1].tolist(), "rule": rule,
               "points": steps, "precision": precision}
    return phi, summary


# --- panels stored as chunks ---------------------------------------------------------------


def from_npy_chunks(paths: list, axis: int = 1) -> Any:
    """A dask array of ``.npy`` files (each ``[T, n_j, d]``, read lazily by memory map), joined
    along ``axis`` (agents by default): a panel stored one chunk per file."""
    if not paths:
        raise InputError("from_npy_chunks: no files given")

    def load(path):
        return np.load(path, mmap_mode="r")

    arrays = []
    for p in paths:
        head = np.load(p, mmap_mode="r")
        if head.ndim != 3:
            raise InputError(f"{p}: shape {list(head.shape)}; expected [T, n, d]")
        arrays.append(da.from_delayed(dask.delayed(load)(str(p)), shape=head.shape, dtype=head.dtype))
    return da.concatenate(arrays, axis=axis)


def from_zarr(url: Any, component: str | None = None) -> Any:
    """A Zarr array ``[T, n, d]`` (a path, a URL or a zarr array; ``component`` names an array
    inside a group) as a dask array chunked as stored: its agent chunks become the tasks'
    chunks. Needs the ``zarr`` package."""
    try:
        import zarr  # noqa: F401, PLC0415
    except ImportError:
        raise InputError("from_zarr needs the zarr package: pip install zarr") from None
    X = da.from_zarr(url, component=component)
    if X.ndim != 3:
        raise InputError(f"{url}: shape {list(X.shape)}; expected [T, n, d]")
    return X


def from_npy(path: Any, agents: int) -> Any:
    """One ``.npy`` file ``[T, n, d]`` as a dask array of ``agents`` agents a chunk, each task
    reading its own rows from the file (a memory map): nothing is read in the calling
    process but the header."""
    agents = _count("agents", agents)
    head = np.load(path, mmap_mode="r")
    if head.ndim != 3:
        raise InputError(f"{path}: shape {list(head.shape)}; expected [T, n, d]")
    T, n, d = head.shape
    starts = range(0, n, agents)
    return da.concatenate(
        [da.from_delayed(dask.delayed(_rows)(str(path), a, min(a + agents, n)),
                         shape=(T, min(a + agents, n) - a, d), dtype=head.dtype)
         for a in starts],
        axis=1,
    )


def _rows(path: str, start: int, end: int) -> np.ndarray:
    """Agents ``start..end`` of every step of a ``.npy`` file."""
    return np.ascontiguousarray(np.load(path, mmap_mode="r")[:, start:end])


def panel_attributions(
    panel: Any,
    indicators: tuple = EXACT,
    *,
    agents: int = 1_000_000,
    out: Any = None,
    threads: int | None = 1,
) -> dict:
    """The cross-scale study's full-panel attributions on a cluster: every topic of a panel
    folder (``aumann panel synth`` or ``aumann panel ingest``; its ``topics/<name>.npy`` read
    ``agents`` agents a task) attributed from zero by the exact forms, as ``aumann study``
    attributes the full panel (a ``mult`` day without activity in some feature has φ = 0).
    Returns ``{(topic, indicator): per-agent totals Σ_t φ_{t,i}}`` (``[n]``, computed) and,
    with ``out``, writes them as ``out/per_agent/<topic>_<indicator>.npy``, the files of
    ``aumann study --per-agent``."""
    import json  # noqa: PLC0415

    folder = Path(panel)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        topics = list(manifest["topics"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{folder / 'manifest.json'}: not a panel's manifest ({e})") from None
    for name in indicators:
        if name not in EXACT:
            raise InputError(f"indicator {name!r}: the full panel is attributed by the exact forms {', '.join(EXACT)}")
    totals = {}
    for topic in topics:
        X = _as_dask(from_npy(folder / "topics" / f"{topic}.npy", agents))
        b, point = _baseline(X, "zero")
        for name in indicators:
            phi, _ = _exact(X, b, point, name, threads, idle_is_zero=True)
            totals[topic, name] = phi.sum(axis=0).compute()
    if out is not None:
        target = Path(out) / "per_agent"
        target.mkdir(parents=True, exist_ok=True)
        for (topic, name), values in totals.items():
            np.save(target / f"{topic}_{name}.npy", values)
    return totals
