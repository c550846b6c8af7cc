"""aumann: Aumann–Shapley path-integral attribution of macro indicators to millions of agents.

NumPy arrays in, NumPy arrays out; the Rust engine runs in-process with the GIL released.

>>> import numpy as np, aumann
>>> X = np.random.default_rng(7).lognormal(size=(100_000, 3)).astype(np.float32)
>>> phi = aumann.attribute(X, "variance")          # φ per agent, shape [n]
>>> phi.sum()                                       # ≈ V(X) − V(0) (efficiency)
"""

from __future__ import annotations

import atexit
import json
import operator
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import _rust

__version__: str = _rust.__version__

__all__ = [
    "AumannError",
    "InputError",
    "BackendError",
    "Attribution",
    "Explainer",
    "attribute",
    "explain",
    "exact",
    "evaluate",
    "from_long",
    "from_mesa",
    "DeepSet",
    "study",
    "compare",
    "explain_scenario",
    "Formula",
    "formula",
]


class AumannError(Exception):
    """Every error the engine reports."""


class InputError(AumannError, ValueError):
    """Input that cannot be attributed: its message names the file, step, agent and coordinate
    where they apply."""


class BackendError(AumannError, RuntimeError):
    """A compute backend or precision that is not available, or a device that failed."""


_KINDS = {"input": InputError, "backend": BackendError, "io": InputError, "internal": AumannError}

# Captum's names for the quadrature rules (its `method`), and aumann's own.
_RULES = {
    "riemann_middle": "midpoint",
    "riemann_trapezoid": "trapezoid",
    "gausslegendre": "gauss",
    "gauss_legendre": "gauss",
}
# Captum's rules that sample one end of every interval: the engine has no such rule.
_NO_EQUIVALENT = ("riemann_left", "riemann_right")
_BASELINES = ("zero", "mean", "first", "previous")

# Counts travel to the engine as unsigned 64-bit integers; documented maxima are checked there
# (and named here where the package knows them).
_U64 = 2**64 - 1
_MAX_POINTS = 1 << 20


def _call(function, *args):
    try:
        return function(*args)
    except _rust.EngineError as e:
        kind, message = e.args[0] if len(e.args) == 1 else e.args
        raise _KINDS.get(kind, AumannError)(message) from None


def _count(name: str, value: Any, low: int = 1, high: int = _U64, note: str = "") -> int:
    """``value`` as an integer in ``[low, high]``, or an :class:`InputError` naming it."""
    expected = f"expected an integer from {low} to {high}{note}"
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} is {value!r}; {expected}")
    try:
        v = operator.index(value)
    except TypeError:
        raise InputError(f"{name} is {value!r} ({type(value).__name__}); {expected}") from None
    if not low <= v <= high:
        raise InputError(f"{name} = {v}: {expected}")
    return v


def _float_array(a: Any, name: str, dtype: Any = None) -> np.ndarray:
    """``a`` as a C-contiguous float array: float32 and float64 as they are (in native byte
    order), integers and booleans as float64; anything else refused, naming ``name``."""
    try:
        a = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise InputError(f"{name} cannot be read as a NumPy array: {e}") from None
    kind = a.dtype.kind
    if kind in "biu":
        a = a.astype(np.float64)
    elif kind == "f" and a.dtype.itemsize in (4, 8):
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
    else:
        raise InputError(
            f"{name} has dtype {a.dtype}; expected float32 or float64 (integer and boolean "
            "arrays are cast to float64)"
        )
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    # (ascontiguousarray would make a 0-d array 1-d)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _features(X: Any) -> np.ndarray:
    return _float_array(X, "X")


def _text(name: str, value: Any) -> str:
    """A string option, or an :class:`InputError` naming it."""
    if not isinstance(value, str):
        raise InputError(f"{name} is {value!r} ({type(value).__name__}); expected a string")
    return value


def _rule(rule: str, name: str = "rule") -> str:
    """aumann's name for a rule given by its own or Captum's name."""
    rule = _text(name, rule)
    if rule in _NO_EQUIVALENT:
        raise InputError(
            f"{name}={rule!r}: Captum's {rule.split('_')[1]} Riemann sum has no equivalent "
            "here; the rules are 'midpoint' (Captum's riemann_middle), 'trapezoid' "
            "(riemann_trapezoid) and 'gauss' (gausslegendre): pass rule='midpoint', "
            "'trapezoid' or 'gauss'"
        )
    return _RULES.get(rule, rule)


def _short(value: Any) -> str:
    """An option's value for a message: an array by its shape, anything else by its repr."""
    shape = getattr(value, "shape", None)
    if shape is not None and shape != ():
        return f"<array of shape {list(shape)}>"
    return repr(value)


def _alias(native: str, value: Any, alias: str, alias_value: Any) -> Any:
    """The value of an option given by its own name or by its Captum alias, not by both."""
    if alias_value is None:
        return value
    if value is not None:
        raise InputError(
            f"{native}={_short(value)} and {alias}={_short(alias_value)} are the same option "
            f"({alias} is Captum's name for {native}): give one"
        )
    return alias_value


def _steps(steps: Any) -> int:
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool) and steps == 0:
        return 0  # the engine's message names the rule's least number of points
    return _count(
        "steps (quadrature points)", 32 if steps is None else steps, 1, _MAX_POINTS,
        " (16384 for gauss; trapezoid needs at least 2)",
    )


def _method_and_rule(method: Any, rule: Any) -> tuple[str, str]:
    """``method`` (``path`` or ``exact``, or Captum's rule names) and ``rule`` resolved."""
    if method is None:
        method = "path"
    if isinstance(method, str) and (method in _RULES or method in _NO_EQUIVALENT):
        if rule is not None:
            raise InputError(
                f"method={method!r} (Captum's name for the quadrature rule) and rule={rule!r} "
                "are the same option: give one"
            )
        return "path", _rule(method, "method")
    if method not in ("path", "exact"):
        raise InputError(
            f"method is {method!r}; expected 'path' (the path integral) or 'exact' (the "
            "closed form), or one of Captum's rule names: riemann_middle, "
            "riemann_trapezoid, gausslegendre"
        )
    return method, _rule("midpoint" if rule is None else rule)


def _baseline_name(baseline: str) -> str:
    """A named baseline, or the path of an existing file."""
    if baseline in _BASELINES or os.path.isfile(baseline):
        return baseline
    raise InputError(
        f"baseline {baseline!r} is neither a baseline name nor a file: the names are "
        f"{', '.join(_BASELINES)}; a path to a .npy file of shape [d], [n, d] or [T, n, d], "
        "an array of one of those shapes, or a number (every coordinate) are accepted too"
    )


def _baseline(baseline: Any, d: int) -> tuple[str, np.ndarray | None]:
    """``(name, array)``: a named or file baseline as its name, an array as ``"array"``."""
    if baseline is None:
        return "zero", None
    if isinstance(baseline, os.PathLike):
        baseline = os.fspath(baseline)
    if isinstance(baseline, str):
        return _baseline_name(baseline), None
    b = _float_array(baseline, "baseline", np.float64)
    if b.ndim == 0:
        if b == 0:  # Captum's baselines=0
            return "zero", None
        b = np.full(d, float(b))
    return "array", b


# A private XDG_RUNTIME_DIR for the GPU backend, where the environment has none.
_runtime_dir: str | None = None


def _prepare_backend(backend: Any) -> None:
    """Before the GPU backend's first use: without a valid ``XDG_RUNTIME_DIR`` (an absolute
    path) the Vulkan driver's window-system probe prints "XDG_RUNTIME_DIR is invalid or not
    set" once per driver, though nothing is drawn on a screen. Point it at a private empty
    folder (removed at exit); a variable that is set is left as it is."""
    global _runtime_dir
    if backend != "wgpu" or os.environ.get("XDG_RUNTIME_DIR", "").startswith("/"):
        return
    if _runtime_dir is None:
        import shutil  # noqa: PLC0415
        import tempfile  # noqa: PLC0415

        _runtime_dir = tempfile.mkdtemp(prefix="aumann-runtime-")  # mode 0700
        atexit.register(shutil.rmtree, _runtime_dir, True)
    os.environ["XDG_RUNTIME_DIR"] = _runtime_dir


class Attribution:
    """One attribution: ``values`` (φ, shape of X without its last axis), ``output`` (V(x) per
    step), ``base_values`` (V(b) per step), ``efficiency_gap``, the run's ``summary`` and the
    ``features`` attributed (X as the engine read it: the caller's own array, not a copy,
    where it was float32 or float64 and C-contiguous; ``None`` for a scenario's own)."""

    def __init__(
        self, values: np.ndarray, summary: dict[str, Any], features: np.ndarray | None = None
    ):
        self.values = values
        self.summary = summary
        self.features = features
        self.output = np.asarray(summary["v_x"], dtype=np.float64)
        self.base_values = np.asarray(summary["v_b"], dtype=np.float64)
        self.efficiency_gap = np.asarray(summary["efficiency_gap"], dtype=np.float64)

    def _where(self, row: int) -> str:
        """Row ``row`` of the values (one population) as a person names it."""
        if self.values.ndim == 3:  # a scenario's [runs, steps, n]
            run, step = divmod(row, self.values.shape[1])
            return f"run {run}, step {step}"
        return f"step {row}"

    def shares(self) -> np.ndarray:
        """φ divided by each step's macro change V(x) − V(b). Raises :class:`InputError`
        naming the steps where the change is zero (no shares exist there) or so small that a
        share overflows."""
        n = self.values.shape[-1]
        values = self.values.reshape(-1, n)
        change = self.output - self.base_values
        if change.shape != (values.shape[0],):
            raise InputError(
                f"the attribution has {values.shape[0]} steps of values but {change.size} "
                "values of V(x) − V(b)"
            )
        zero = np.flatnonzero(change == 0)
        if zero.size:
            where = ", ".join(self._where(int(t)) for t in zero[:5])
            more = f" (and {zero.size - 5} more)" if zero.size > 5 else ""
            t = int(zero[0])
            raise InputError(
                f"shares do not exist at {where}{more}: V(x) = V(b) = {self.output[t]!r}, no "
                "macro change to share"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            shares = values / change[:, None]
        finite = np.isfinite(shares).all(axis=1)
        if not finite.all():
            t = int(np.argmin(finite))
            raise InputError(
                f"shares overflow at {self._where(t)}: V(x) − V(b) = {change[t]!r} is too small "
                f"against φ (largest |φ| {np.abs(values[t]).max()!r})"
            )
        return shares.reshape(self.values.shape)

    def to_shap(self, agents: Any = None):
        """A ``shap.Explanation`` (needs shap): one row per step, one column per agent.

        ``values`` is φ, ``base_values`` V(b) per step (so ``base_values + values.sum() ==
        output``, a step's waterfall), ``feature_names`` the agents (``agents``, one name
        per agent, or ``agent_0``, ``agent_1``, …) and ``data`` each agent's composite
        ``Σ_k x_ik`` (its feature itself where there is one; what the analytic indicators
        aggregate), which colours the beeswarm. A ``[T, n, d]`` input gives a ``[T, n]``
        explanation (``shap.plots.bar``, ``beeswarm``, ``heatmap``; ``waterfall(e[t])``), an
        ``[n, d]`` input a single row (``bar``, ``waterfall``). A scenario's own features are
        not kept: its ``data`` is ``None``.
        """
        import shap  # noqa: PLC0415 (optional dependency)

        n = self.values.shape[-1]
        if agents is None:
            names = [f"agent_{i}" for i in range(n)]
        else:
            names = [_label(a) if not isinstance(a, str) else a for a in agents]
            if len(names) != n:
                raise InputError(f"agents has {len(names)} names; the attribution has {n} agents")
        data = None
        if self.features is not None:
            data = np.asarray(self.features).sum(axis=-1, dtype=np.float64)
        if self.values.ndim == 1:
            return shap.Explanation(
                values=self.values, base_values=float(self.base_values[0]), data=data,
                feature_names=names,
            )
        rows = (-1, n)
        return shap.Explanation(
            values=self.values.reshape(rows), base_values=self.base_values.reshape(-1),
            data=None if data is None else data.reshape(rows), feature_names=names,
        )

    def __repr__(self) -> str:
        return (
            f"Attribution(shape={self.values.shape}, indicator={self.summary['indicator']!r}, "
            f"V(x)={self.output.tolist()}, V(b)={self.base_values.tolist()})"
        )


def explain(
    X: np.ndarray | None,
    indicator: str = "variance",
    *,
    model: str | None = None,
    baseline: Any = None,
    method: str = "path",
    rule: str | None = None,
    steps: int | None = None,
    backend: str = "flex",
    precision: str | None = None,
    threads: int | None = None,
    normalize: bool = False,
    progress: Any = None,
    n_steps: int | None = None,
    baselines: Any = None,
) -> Attribution:
    """Attribute ``V`` of ``X`` (``[n, d]`` or ``[T, n, d]``) to its agents.

    ``X``: float32 or float64; integer and boolean arrays are cast to float64, and a float
    array in the non-native byte order is read in the native one (float32 stays float32).
    ``indicator``: ``linear``, ``mult``, ``variance``, ``gini`` (the Gini *mean difference*
    Σ_{i≠j}|c_i − c_j|/(n(n−1)) of the composite c_i = Σ_k x_ik, about 2μ times the
    coefficient), ``gini_coefficient`` (the Gini coefficient Σ_ij|c_i − c_j|/(2n²μ), as Mesa's
    ``compute_gini`` computes it; scale-invariant, so it needs a baseline with a positive mean:
    ``mean`` gives Σφ = G, ``previous`` each step's change), the other inequality and
    concentration indices of the composite — ``theil``, ``atkinson(epsilon=ε)`` (default 0.5),
    ``coefficient_of_variation``, ``top_share(p=0.1, tau=0.05)`` (the share of the total held by
    the top p of agents, its rank cut smoothed over tau times the mean) and
    ``share_above(threshold=θ, tau=τ)`` / ``share_below(…)`` (the fraction of agents above or
    below θ, smoothed over τ, by default |θ|/20); Theil, Atkinson, the coefficient of variation
    and the top share are scale-invariant and need a baseline with a positive mean, Theil and
    Atkinson every composite positive — parameters follow the name in parentheses,
    ``deepset`` (with ``model``,
    a model folder of ``aumann train``), a :class:`DeepSet`, a model folder, or a scenario
    folder of ``aumann simulate`` (with ``X=None``: its static risk at every step, see
    :func:`explain_scenario` for the rollout risk and one run or step).
    ``baseline``: ``zero`` (the default), ``mean``, ``first``, ``previous`` (the previous
    step's features: what each step's change did), a ``.npy`` path, an array
    (``[d]``, ``[n, d]`` or ``[T, n, d]``, cast to float64 as X is) or a number (every
    coordinate; 0 is ``zero``). A step whose attributions miss V(x) − V(b) by more than 1e-3
    of it raises a ``RuntimeWarning`` naming the step and the remedy. The Gini forms are
    exact from any baseline on the CPU backends, whatever the rule. ``method``: ``path`` (the path integral) or ``exact`` (closed
    form). ``rule``: ``midpoint`` (the default), ``trapezoid``, ``gauss``; ``steps``: the
    number of quadrature points (default 32, at most 2²⁰). ``precision`` defaults to X's
    dtype (float64 for a cast array). ``progress``: ``True`` for a tqdm bar (when tqdm is
    installed), or a callable ``f(done, total)`` called after every chunk of the path
    integral.

    Captum's names are accepted too: ``n_steps`` for ``steps``, ``baselines`` for
    ``baseline``, and ``method`` set to one of its rule names (``riemann_middle``,
    ``riemann_trapezoid``, ``gausslegendre``) for ``rule``; giving an option under both
    names is an error, and ``riemann_left``/``riemann_right`` have no equivalent here.

    The summary's ``seconds_total`` is the wall time of the call.
    """
    start = time.perf_counter()
    method, rule = _method_and_rule(method, rule)
    steps = _steps(_alias("steps", steps, "n_steps", n_steps))
    baseline = _alias("baseline", baseline, "baselines", baselines)
    if threads is not None:  # the engine's bound, as the command line documents it
        threads = _count("threads", threads, 1, max(256, 4 * (os.cpu_count() or 1)))
    if isinstance(indicator, (str, os.PathLike)) and os.path.isdir(indicator):
        folder = Path(indicator)
        if (folder / "scenario.json").is_file():
            if X is not None:
                raise InputError(
                    f"{folder} is a scenario folder: its features are attributed; pass X=None"
                )
            if baseline is not None:
                raise InputError(
                    f"{folder} is a scenario folder: it is attributed from its baseline action"
                )
            a = _scenario_attribution(folder, rule, steps, backend, precision, progress)
            a.summary["seconds_total"] = time.perf_counter() - start
            return a
        if (folder / "indicator.json").is_file():
            indicator = Formula.load(folder)
        else:
            indicator, model = "deepset", str(folder)
    X = _features(X)
    if isinstance(indicator, DeepSet):
        indicator, model = "deepset", indicator._folder()
    if isinstance(indicator, Formula):
        indicator, model = "formula", indicator.definition
    baseline, baseline_array = _baseline(baseline, X.shape[-1] if X.ndim else 0)
    if model is not None and indicator == "variance":
        indicator = "deepset"
    backend = _text("backend", backend)
    if precision is not None:
        precision = _text("precision", precision)
    _prepare_backend(backend)
    bar = None
    if progress is True:
        try:
            from tqdm.auto import tqdm  # noqa: PLC0415 (optional dependency)
        except ImportError:
            progress = None
        else:
            bar = tqdm(desc="aumann", unit="chunk")

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

    args = (indicator, None if model is None else str(model), method, rule, steps,
            backend, precision, threads, bool(normalize))
    try:
        if X.ndim == 3 and X.nbytes > _CHUNK_BYTES and X.shape[0] > 1:
            a = _explain_by_steps(X, args, baseline, baseline_array, progress)
        else:
            values, summary = _run(X, args, baseline, baseline_array, progress)
            a = Attribution(values, json.loads(summary), X)
    finally:
        if bar is not None:
            bar.close()
    a.summary["seconds_total"] = time.perf_counter() - start
    _warn_inefficient(a.summary)
    return a


# A relative efficiency gap above this is warned about (the engine's EFFICIENCY_WARNING).
_EFFICIENCY_WARNING = 1e-3


def _warn_inefficient(summary: dict[str, Any]) -> None:
    """A ``RuntimeWarning`` for every step whose attributions miss V(x) − V(b) by more than
    1e-3 of it: the quadrature has not converged there."""
    import warnings  # noqa: PLC0415

    for t, gap in enumerate(summary.get("relative_efficiency_gap") or []):
        if gap is not None and (gap > _EFFICIENCY_WARNING or gap != gap):
            warnings.warn(
                f"step {t}: the attributions miss V(x) − V(b) by {gap:.2e} of it (more than "
                f"{_EFFICIENCY_WARNING:g}); use more quadrature points (steps=) or the Gauss–"
                "Legendre rule (rule='gauss'), or an indicator's exact route where it has one",
                RuntimeWarning,
                stacklevel=3,
            )


class Explainer:
    """An explainer in SHAP's style: ``aumann.Explainer(indicator, **options)(X)`` is
    ``aumann.explain(X, indicator, **options)`` (the same :class:`Attribution`, with
    :meth:`Attribution.to_shap` for shap's plots). The options are :func:`explain`'s,
    Captum's names included, checked when the explainer is made.

    >>> explainer = aumann.Explainer("gini", n_steps=64)
    >>> a = explainer(X)                     # an Attribution
    >>> shap.plots.beeswarm(a.to_shap())
    """

    def __init__(self, indicator: Any = "variance", **options: Any):
        import inspect  # noqa: PLC0415

        known = set(inspect.signature(explain).parameters) - {"X", "indicator"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InputError(
                f"unknown option {', '.join(unknown)}; the options are {', '.join(sorted(known))}"
            )
        # The same checks explain makes, before any data is seen.
        _method_and_rule(options.get("method"), options.get("rule"))
        _steps(_alias("steps", options.get("steps"), "n_steps", options.get("n_steps")))
        _alias("baseline", options.get("baseline"), "baselines", options.get("baselines"))
        self.indicator = indicator
        self.options = options

    def __call__(self, X: Any) -> Attribution:
        """The attribution of ``X`` (as :func:`explain`)."""
        return explain(X, self.indicator, **self.options)

    def shap_values(self, X: Any) -> np.ndarray:
        """φ of ``X`` (SHAP's older spelling): :func:`attribute`."""
        return self(X).values

    def __repr__(self) -> str:
        options = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"Explainer({self.indicator!r}{options})"


# Above this many bytes of X, steps are handed to the engine a group at a time, so its one
# copy of the input is a group's, not the whole array's (steps are attributed independently).
_CHUNK_BYTES = 64 << 20


def _run(X, args, baseline, baseline_array, progress):
    indicator, model, method, rule, steps, backend, precision, threads, normalize = args
    return _call(
        _rust.attribute, X, (indicator, model), str(baseline), method, rule, steps, backend,
        precision, threads, normalize, progress, baseline_array,
    )


def _explain_by_steps(X, args, baseline, baseline_array, progress) -> Attribution:
    T = X.shape[0]
    name = baseline
    if baseline not in (*_BASELINES, "array"):  # a file
        try:
            loaded = np.load(baseline)
        except (OSError, ValueError) as e:
            raise InputError(f"baseline {baseline}: {e}") from None
        baseline_array, baseline = _float_array(loaded, f"baseline {name}", np.float64), "array"
    if baseline == "first":
        baseline_array, baseline = X[0].astype(np.float64), "array"
    if baseline == "previous":
        previous = np.concatenate((X[:1], X[:-1]))
        baseline_array, baseline = previous.astype(np.float64), "array"
    per_group = max(1, _CHUNK_BYTES // X[0].nbytes)
    groups = [(t, min(T, t + per_group)) for t in range(0, T, per_group)]
    values = None
    merged: dict[str, Any] = {}
    for g, (t0, t1) in enumerate(groups):
        b = baseline_array
        if b is not None and b.ndim == 3:
            if b.shape[0] != T:
                raise InputError(
                    f"baseline has shape {list(b.shape)}; expected [{X.shape[2]}], "
                    f"[{X.shape[1]}, {X.shape[2]}] or {list(X.shape)} to match the features"
                )
            b = np.ascontiguousarray(b[t0:t1])
        report = None if progress is None else (
            lambda d, t, g=g: progress(g * t + d, len(groups) * t)
        )
        part, summary = _run(X[t0:t1], args, baseline, b, report)
        summary = json.loads(summary)
        if values is None:
            values = np.empty((T,) + part.shape[1:], dtype=part.dtype)
            merged = summary
        else:
            for key in ("v_x", "v_b", "efficiency_gap", "relative_efficiency_gap"):
                merged[key] = merged[key] + summary[key]
            merged["seconds_attribution"] += summary["seconds_attribution"]
            phases = merged["seconds_phases"]
            for phase, seconds in summary["seconds_phases"].items():
                phases[phase] = phases.get(phase, 0.0) + seconds
        values[t0:t1] = part
        del part
    # The whole input's record, not its first group's.
    merged["T"] = T
    if name != "array":
        merged["baseline"] = name
    return Attribution(values, merged, X)


def attribute(
    X: np.ndarray,
    indicator: str = "variance",
    *,
    return_convergence_delta: bool = False,
    **options: Any,
):
    """φ for every agent (and step): :func:`explain`'s ``values`` (its options, Captum's
    names included: ``aumann.attribute(X, "gini", n_steps=32, baselines=0,
    method="riemann_middle")``). With ``return_convergence_delta`` (Captum's spelling),
    ``(φ, δ)`` with ``δ = Σφ − (V(x) − V(b))`` per step."""
    a = explain(X, indicator, **options)
    if return_convergence_delta:
        return a.values, a.efficiency_gap
    return a.values


def exact(
    X: np.ndarray, indicator: str = "variance", *, baseline: Any = None, baselines: Any = None
) -> np.ndarray:
    """φ by the closed form (the four analytic indicators), in f64; ``baseline`` (or Captum's
    ``baselines``) as in :func:`explain`."""
    baseline = _alias("baseline", baseline, "baselines", baselines)
    return explain(X, indicator, baseline=baseline, method="exact", precision="f64").values


def evaluate(
    X: np.ndarray,
    indicator: str = "variance",
    *,
    model: str | None = None,
    backend: str = "flex",
    precision: str | None = None,
) -> np.ndarray:
    """``V`` of every step (row) of ``X`` (``[n, d]`` gives one value); ``X`` as in
    :func:`explain` (integer and boolean arrays cast to float64)."""
    X = _features(X)
    if isinstance(indicator, DeepSet):
        indicator, model = "deepset", indicator._folder()
    if isinstance(indicator, Formula):
        indicator, model = "formula", indicator.definition
    if model is not None and indicator == "variance":
        indicator = "deepset"
    backend = _text("backend", backend)
    _prepare_backend(backend)
    return _call(
        _rust.evaluate, X, (indicator, None if model is None else str(model)), backend, precision
    )


def _label(v: Any) -> str:
    """A step or agent id as a person would write it (`30`, `'a7'`)."""
    v = v.item() if isinstance(v, np.generic) else v
    return repr(v) if isinstance(v, str) else str(v)


def _names(names: list[Any]) -> str:
    return ", ".join(repr(v) for v in names)


def _table_names(table: Any) -> tuple[list[Any], list[Any]]:
    """The columns of a table and the named levels of its index (a pandas frame's), as far as
    they can be listed."""
    columns: list[Any] = []
    if hasattr(table, "columns"):
        columns = list(table.columns)
    elif hasattr(table, "keys"):
        columns = list(table.keys())
    index = getattr(table, "index", None)
    levels = [v for v in getattr(index, "names", None) or [] if v is not None]
    return columns, levels


def _available(table: Any) -> str:
    columns, levels = _table_names(table)
    text = f"the table's columns are {_names(columns)}" if columns else "the table has no columns"
    if levels:
        text += f" (and its index levels {_names(levels)})"
    return text


def _column(table: Any, name: Any, role: str) -> Any:
    """Column ``name`` of ``table``, or else the index level of that name (a pandas frame as
    Mesa's DataCollector gives it, indexed by step and agent)."""
    columns, levels = _table_names(table)
    try:
        if name in columns:
            return table[name]
        if name in levels:
            return table.index.get_level_values(name)
        if not columns:
            return table[name]
    except (KeyError, IndexError, TypeError, ValueError):
        pass
    raise InputError(f"{role} column {name!r} is not in the table; {_available(table)}")


def _numbers(col: Any, name: Any) -> np.ndarray:
    """A feature column as float64 (integers and booleans cast; a pandas nullable column's
    missing values as NaN)."""
    values = np.asarray(col)
    if values.dtype.kind in "biuf":
        return values.astype(np.float64).reshape(-1)
    if type(col).__module__.partition(".")[0] == "pandas":
        import pandas as pd  # noqa: PLC0415 (only for a pandas column)

        if pd.api.types.is_numeric_dtype(col.dtype):
            return np.asarray(col.to_numpy(dtype=np.float64, na_value=np.nan)).reshape(-1)
    raise InputError(
        f"feature column {name!r} has dtype {getattr(col, 'dtype', values.dtype)}; expected "
        "numbers (integers and booleans are cast to float)"
    )


def from_long(
    table: Any,
    *,
    step: str,
    agent: str,
    features: list[str] | str,
    fill: float | str = 0.0,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pivot a long per-agent table to ``X[T, n, d]``.

    ``table``: a pandas or polars DataFrame, a dict of arrays, anything whose
    ``table[column]`` gives a column; ``step`` and ``agent`` may also name the levels of a
    pandas frame's index, so Mesa's ``DataCollector.get_agent_vars_dataframe()`` (indexed by
    ``Step`` and ``AgentID``) is read as it comes (see :func:`from_mesa`). Feature columns
    may hold integers or booleans (cast). Steps and agents are sorted; ``X[t, i, k]`` is
    ``features[k]`` of agent ``agents[i]`` at ``steps[t]``. An agent missing at a step gets
    ``fill`` (a number: the baseline value, 0 by default) or, with ``fill="raise"``, raises
    :class:`InputError` naming the step and agent. A repeated (step, agent) pair, a column
    that is not there (the error lists those that are), a missing or non-finite value and a
    value that does not fit ``dtype`` raise. Returns ``(X, steps, agents)``.
    """
    if isinstance(features, str):
        features = [features]
    features = list(features)
    if not features:
        raise InputError(f"from_long needs at least one feature column; {_available(table)}")
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise InputError(f"dtype is {dtype!r}; expected float32 or float64") from None
    if dtype not in (np.float32, np.float64):
        raise InputError(f"dtype is {dtype}; expected float32 or float64")
    steps_col = np.asarray(_column(table, step, "step")).reshape(-1)
    agents_col = np.asarray(_column(table, agent, "agent")).reshape(-1)
    columns = {name: _numbers(_column(table, name, "feature"), name) for name in features}
    rows = len(steps_col)
    for name, col in [(agent, agents_col), *columns.items()]:
        if len(col) != rows:
            raise InputError(
                f"column {name!r} has {len(col)} rows; the step column {step!r} has {rows}"
            )
    if rows == 0:
        raise InputError("the table has no rows")
    try:
        steps, t_index = np.unique(steps_col, return_inverse=True)
        agents, a_index = np.unique(agents_col, return_inverse=True)
    except TypeError as e:
        raise InputError(
            f"the step ({step!r}) and agent ({agent!r}) columns must each hold values of one "
            f"sortable kind: {e}"
        ) from None
    T, n, d = len(steps), len(agents), len(features)
    flat = t_index.reshape(-1) * n + a_index.reshape(-1)
    counts = np.bincount(flat, minlength=T * n)
    if np.any(counts > 1):
        j = int(np.argmax(counts > 1))
        raise InputError(
            f"step {_label(steps[j // n])}, agent {_label(agents[j % n])} appears "
            f"{int(counts[j])} times"
        )
    missing = counts == 0
    if isinstance(fill, str):
        if fill != "raise":
            raise InputError(f"fill is {fill!r}; expected a number or 'raise'")
        if np.any(missing):
            j = int(np.argmax(missing))
            raise InputError(
                f"agent {_label(agents[j % n])} has no row at step {_label(steps[j // n])}"
            )
        fill_value = 0.0
    else:
        try:
            fill_value = float(fill)
        except (TypeError, ValueError):
            raise InputError(f"fill is {fill!r}; expected a number or 'raise'") from None
        if not np.isfinite(fill_value) or not np.isfinite(dtype.type(fill_value)):
            raise InputError(f"fill is {fill!r}; expected a finite number that fits {dtype}")
    X = np.full((T * n, d), fill_value, dtype=dtype)
    for k, (name, values) in enumerate(columns.items()):
        with np.errstate(over="ignore"):
            stored = values.astype(dtype)
        bad = ~np.isfinite(stored)
        if np.any(bad):
            r = int(np.argmax(bad))
            fits = "" if not np.isfinite(values[r]) else f" (it does not fit {dtype})"
            raise InputError(
                f"{name} is {values[r]} at step {_label(steps_col[r])}, agent "
                f"{_label(agents_col[r])}{fits}"
            )
        X[flat, k] = stored
    return X.reshape(T, n, d), steps, agents


def from_mesa(
    source: Any,
    features: list[str] | str | None = None,
    *,
    fill: float | str = 0.0,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X[T, n, d]`` from a Mesa model's agent-level data: ``source`` is a model with a
    ``datacollector`` or a ``mesa.DataCollector``, whose agent reporters
    (``get_agent_vars_dataframe()``, indexed by step and agent) are pivoted by
    :func:`from_long`. ``features``: reporter names (default: every numeric reporter);
    integer values (Mesa's wealth) are cast. Returns ``(X, steps, agents)``.

    >>> X, steps, agents = aumann.from_mesa(model, features=["wealth"])
    >>> a = aumann.explain(X, "gini")
    """
    collector = getattr(source, "datacollector", source)
    if not hasattr(collector, "get_agent_vars_dataframe"):
        raise InputError(
            f"from_mesa takes a Mesa model with a datacollector attribute or a "
            f"mesa.DataCollector; got {type(source).__name__}"
            + (" whose datacollector is None" if hasattr(source, "datacollector") else "")
        )
    try:
        frame = collector.get_agent_vars_dataframe()
    except UserWarning as e:  # Mesa raises it where no agent reporter is defined
        raise InputError(
            f"the DataCollector has no agent-level data ({e}); give it agent reporters, "
            "e.g. mesa.DataCollector(agent_reporters={'wealth': 'wealth'})"
        ) from None
    levels = [v for v in getattr(frame.index, "names", []) if v is not None]
    # Before its first collect(), Mesa's agent table is all NaN, indexed by nothing.
    if len(frame) == 0 or (len(levels) != 2 and bool(frame.isna().all(axis=None))):
        raise InputError(
            "the DataCollector has collected no agent data yet: call "
            "model.datacollector.collect(model) in the model's step() and run some steps"
        )
    if len(levels) != 2:
        raise InputError(
            f"the DataCollector's agent table is indexed by {_names(levels)}; expected (step, "
            "agent), as Mesa's get_agent_vars_dataframe() gives it"
        )
    if features is None:
        import pandas as pd  # noqa: PLC0415 (Mesa's frames are pandas')

        features = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c].dtype)]
        if not features:
            raise InputError(
                f"none of the agent reporters is numeric; {_available(frame)}: pass features="
            )
    return from_long(
        frame, step=levels[0], agent=levels[1], features=features, fill=fill, dtype=dtype
    )


class DeepSet:
    """A learned indicator ``V = ρ(mean_i ψ(x_i))``, trained and stored as the model folders of
    ``aumann train``.

    >>> ds = aumann.DeepSet(hidden=32, depth=2, activation="tanh").fit(X, target_indicator="variance")
    >>> ds.predict(X)                       # V per population
    >>> aumann.attribute(X[0], ds)          # attribute it like any indicator
    >>> ds.save("my-model"); aumann.DeepSet.load("my-model")
    """

    def __init__(self, hidden: int = 32, depth: int = 2, activation: str = "tanh", seed: int = 7):
        self.hidden = _count("hidden", hidden, 1, 1 << 14)
        self.depth = _count("depth", depth, 1, 64)
        self.activation = _text("activation", activation)
        self.seed = _count("seed", seed, 0)
        self.path: str | None = None
        self.report: dict[str, Any] | None = None
        self._tmp = None

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray | None = None,
        *,
        target_indicator: str | None = None,
        epochs: int = 300,
        lr: float = 3e-3,
        batch: int = 32,
        val_fraction: float = 0.2,
        patience: int = 30,
    ) -> DeepSet:
        """Train on populations ``X`` (``[R, n, d]``) for ``y`` (one value per population) or
        an analytic ``target_indicator`` evaluated exactly on each."""
        import tempfile  # noqa: PLC0415

        X = _features(X)
        if y is not None:
            y = _float_array(y, "y", np.float64).reshape(-1)
        epochs, batch = _count("epochs", epochs), _count("batch", batch)
        patience = _count("patience", patience, 0)
        if not isinstance(lr, (int, float, np.number)) or not 0 < float(lr) < float("inf"):
            raise InputError(f"lr is {lr!r}; expected a positive finite number")
        self._tmp = tempfile.TemporaryDirectory(prefix="aumann-deepset-")
        path = os.path.join(self._tmp.name, "model")
        report = _call(
            _rust.train_deepset, X, y, target_indicator, path, self.hidden, self.depth,
            self.activation, epochs, lr, batch, self.seed, val_fraction, patience,
        )
        self.path, self.report = path, json.loads(report)
        return self

    def _folder(self) -> str:
        if self.path is None:
            raise InputError("this DeepSet has no weights yet: fit() or DeepSet.load() it first")
        return self.path

    def predict(self, X: np.ndarray, *, backend: str = "flex") -> np.ndarray:
        """``V`` of every population (row) of ``X``."""
        return evaluate(X, "deepset", model=self._folder(), backend=backend)

    def save(self, directory: str | os.PathLike) -> None:
        """Write the model folder (config.json, weights, card) to ``directory``."""
        import shutil  # noqa: PLC0415

        shutil.copytree(self._folder(), directory, dirs_exist_ok=True)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> DeepSet:
        """A DeepSet from a model folder (``aumann train``'s or :meth:`save`'s)."""
        path = Path(directory) / "config.json"
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"{path}: not a model folder's configuration ({e})") from None
        if not isinstance(config, dict):
            raise InputError(f"{path}: not a model folder's configuration (not a JSON object)")
        ds = cls(hidden=config.get("hidden", 32), depth=config.get("depth", 2))
        ds.activation = str(config.get("activation", "tanh")).lower()
        ds.path = str(directory)
        return ds


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    """A study CSV as a dict of columns: numbers as float64 (empty fields NaN), text as str."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    columns = list(zip(*(line.split(",") for line in lines[1:]))) or [()] * len(header)
    out = {}
    for name, values in zip(header, columns):
        try:
            out[name] = np.array([float(v) if v != "" else np.nan for v in values])
        except ValueError:
            out[name] = np.array(values, dtype=str)
    return out


def study(
    out: str | os.PathLike,
    panel: str | os.PathLike | None = None,
    *,
    agents: int = 1_000_000,
    days: int = 14,
    panel_seed: int = 7,
    seed: int = 7,
    seeds: int = 10,
    sizes: tuple[int, ...] = (100, 300, 1_000, 3_000, 10_000, 100_000),
    indicators: tuple[str, ...] = ("linear", "mult", "variance", "gini"),
    protocols: tuple[str, ...] = (
        "bias-visibility", "bias-topic-x-follow", "bias-topic-top", "random", "bias-followers",
    ),
    progress: Any = None,
) -> dict[str, dict[str, np.ndarray]]:
    """The cross-scale study (``aumann study``): its files written to ``out``, and its tables
    returned as ``{"shares": {column: array}, "residuals": …, "anchors": …, "daily": …}``
    (numbers as float64 with NaN where a field is empty, text as str arrays). ``indicators``:
    the analytic four (exact forms) and any other registry indicator, parameters after its
    name (``"share_above(threshold=1, tau=0.2)"``), attributed by the path integral from the
    study's zero baseline (scale-invariant indices are undefined there and refused)."""
    agents, days, seeds = _count("agents", agents), _count("days", days), _count("seeds", seeds)
    panel_seed, seed = _count("panel_seed", panel_seed, 0), _count("seed", seed, 0)
    sizes = [_count("sizes", size) for size in sizes]
    _call(
        _rust.run_study, str(out), None if panel is None else str(panel), agents, days,
        panel_seed, seed, seeds, list(sizes), list(indicators), list(protocols), progress,
    )
    folder = Path(out)
    names = ["shares", "residuals", "anchors", "jaccard", "daily", "daily_small", "positive_mass"]
    return {name: _read_csv(folder / f"{name}.csv") for name in names}


def compare(
    X: np.ndarray,
    indicator: str = "variance",
    *,
    methods: tuple[str, ...] = ("as-exact", "as-path", "loo", "shapley-sampled", "banzhaf-sampled"),
    samples: int = 100,
    seed: int = 7,
    antithetic: bool = False,
    baseline: str | None = None,
    baselines: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Attribution methods side by side on one step ``X[n, d]`` of an analytic indicator
    (``aumann compare``): ``{method: {"values": φ, "std_error": array or None, "seconds": s}}``.
    Methods: ``as-exact``, ``as-path``, ``loo``, ``shapley-sampled``,
    ``shapley-sampled-plain``, ``banzhaf-sampled``, ``shapley-exact``, ``banzhaf-exact`` (the
    exact coalition methods up to a few dozen agents). ``X`` as in :func:`explain`;
    ``baseline`` (or Captum's ``baselines``): ``zero`` (the default), ``mean``, ``first``,
    ``previous`` or a ``.npy`` path."""
    X = _features(X)
    baseline = _alias("baseline", baseline, "baselines", baselines)
    if isinstance(baseline, os.PathLike):
        baseline = os.fspath(baseline)
    baseline = _baseline_name(_text("baseline", "zero" if baseline is None else baseline))
    samples, seed = _count("samples", samples), _count("seed", seed, 0)
    runs = _call(
        _rust.compare, X, indicator, list(methods), samples, seed, antithetic, baseline
    )
    return {
        name: {"values": phi, "std_error": err, "seconds": seconds}
        for name, phi, err, seconds in runs
    }


# `aumann.eval`, as the command line spells it (`aumann eval`); `evaluate` does not shadow the
# builtin inside user code that does `from aumann import *`.
eval = evaluate  # noqa: A001


def explain_scenario(
    folder: str | os.PathLike,
    indicator: str = "static",
    *,
    run: int | None = None,
    step: int | None = None,
    rule: str | None = None,
    steps: int | None = None,
    backend: str = "flex",
    precision: str = "f64",
    progress: Any = None,
    n_steps: int | None = None,
) -> dict[str, np.ndarray]:
    """A simulated society's risk (``aumann simulate``'s folder) attributed to its agents: the
    ``static`` risk of a step's features or the ``rollout`` risk after the scenario's horizon,
    by the path integral from the scenario's baseline action (``aumann attribute --scenario``).
    ``rule`` (default ``midpoint``) and ``steps`` (default 32; Captum's ``n_steps``) as in
    :func:`explain`. Returns ``{"values": φ [runs?, steps?, n], "output": V(x),
    "base_values": V(b)}``."""
    rule = _rule("midpoint" if rule is None else rule)
    steps = _steps(_alias("steps", steps, "n_steps", n_steps))
    run = None if run is None else _count("run", run, 0)
    step = None if step is None else _count("step", step, 0)
    backend = _text("backend", backend)
    _prepare_backend(backend)
    phi, v_x, v_b = _call(
        _rust.attribute_scenario, str(folder), indicator, run, step, rule, steps, backend,
        precision, progress,
    )
    return {"values": phi, "output": np.asarray(v_x), "base_values": np.asarray(v_b)}


def _scenario_attribution(folder, rule, steps, backend, precision, progress) -> Attribution:
    out = explain_scenario(
        folder, "static", rule=rule, steps=steps, backend=backend,
        precision=precision or "f64", progress=progress,
    )
    summary = {
        "indicator": "static",
        "scenario": str(folder),
        "v_x": out["output"].tolist(),
        "v_b": out["base_values"].tolist(),
        "efficiency_gap": (
            out["values"].reshape(len(out["output"]), -1).sum(axis=1)
            - (out["output"] - out["base_values"])
        ).tolist(),
    }
    return Attribution(out["values"], summary)


class Formula:
    """A pooled indicator ``V = ρ(mean_i ψ(x_i))`` written as formulas: made by
    :func:`formula` or :meth:`Formula.load`, attributed and evaluated like any indicator."""

    def __init__(self, definition: str):
        """``definition``: the JSON of an ``indicator.json``; checked (parsed and compiled)
        here, its number of features when it meets X."""
        self.definition: str = _call(_rust.check_formula, definition)
        self.name: str = json.loads(self.definition)["name"]

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Formula:
        """The formula indicator in ``directory/indicator.json``."""
        return cls((Path(directory) / "indicator.json").read_text())

    def save(self, directory: str | os.PathLike) -> None:
        """Write ``directory/indicator.json``, the folder ``aumann attribute --model`` reads."""
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "indicator.json").write_text(self.definition)

    def __repr__(self) -> str:
        return f"Formula({json.dumps(json.loads(self.definition))})"


def formula(
    psi: str | list[str] | dict[str, str],
    rho: str,
    *,
    features: list[str] | None = None,
    name: str = "formula",
) -> Formula:
    """A pooled indicator written as formulas (README, "Formula indicators"): ``psi``, one
    expression over an agent's features, a list of them, or ``{name: expression}``; ``rho``,
    an expression over their population means (``m0, m1, …`` or the names); ``features``, the
    names of X's last axis (``x0, x1, …`` and their sum ``c`` are always there).

    >>> poor = aumann.formula(psi={"poor": "sigmoid((0.1 - wealth) / 0.05)"}, rho="poor",
    ...                       features=["wealth", "income"])
    >>> aumann.explain(X, poor).values          # each agent's part in the share of the poor
    """
    if isinstance(psi, str):
        psi = [psi]
    spec: dict[str, Any] = {
        "format": "aumann-formula/1",
        "name": name,
        "psi": dict(psi) if isinstance(psi, dict) else list(psi),
        "rho": rho,
    }
    if features is not None:
        spec["features"] = list(features)
    return Formula(json.dumps(spec))
