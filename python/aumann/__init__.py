"""aumann: Aumann–Shapley path-integral attribution of macro indicators to millions of agents.

NumPy arrays in, NumPy arrays out; the Rust engine runs in-process with the GIL released.

>>> import numpy as np, aumann
>>> X = np.random.default_rng(7).lognormal(size=(100_000, 3)).astype(np.float32)
>>> phi = aumann.attribute(X, "variance")          # φ per agent, shape [n]
>>> phi.sum()                                       # ≈ V(X) − V(0) (efficiency)
"""

from __future__ import annotations

import json
import os
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
    "attribute",
    "explain",
    "exact",
    "evaluate",
    "from_long",
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

# Captum's names for the quadrature rules, and aumann's own.
_RULES = {
    "riemann_middle": "midpoint",
    "riemann_trapezoid": "trapezoid",
    "gausslegendre": "gauss",
    "gauss_legendre": "gauss",
}


def _call(function, *args):
    try:
        return function(*args)
    except _rust.EngineError as e:
        kind, message = e.args[0] if len(e.args) == 1 else e.args
        raise _KINDS.get(kind, AumannError)(message) from None


def _features(X: Any) -> np.ndarray:
    X = np.ascontiguousarray(X)
    if X.dtype not in (np.float32, np.float64):
        raise InputError(f"X has dtype {X.dtype}; expected float32 or float64")
    return X


class Attribution:
    """One attribution: ``values`` (φ, shape of X without its last axis), ``output`` (V(x) per
    step), ``base_values`` (V(b) per step), ``efficiency_gap`` and the run's ``summary``."""

    def __init__(self, values: np.ndarray, summary: dict[str, Any]):
        self.values = values
        self.summary = summary
        self.output = np.asarray(summary["v_x"], dtype=np.float64)
        self.base_values = np.asarray(summary["v_b"], dtype=np.float64)
        self.efficiency_gap = np.asarray(summary["efficiency_gap"], dtype=np.float64)

    def shares(self) -> np.ndarray:
        """φ divided by each step's macro change V(x) − V(b)."""
        change = self.output - self.base_values
        if np.any(change == 0):
            raise InputError("a step has V(x) = V(b): its shares do not exist")
        if self.values.ndim == 1:
            return self.values / change[0]
        return self.values / change[:, None]

    def to_shap(self):
        """A ``shap.Explanation`` (needs shap): ``base_values + values.sum() == output``."""
        import shap  # noqa: PLC0415 (optional dependency)

        if self.values.ndim == 1:
            return shap.Explanation(values=self.values, base_values=float(self.base_values[0]))
        return shap.Explanation(values=self.values, base_values=self.base_values)

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
    baseline: Any = "zero",
    method: str = "path",
    rule: str = "midpoint",
    steps: int = 32,
    backend: str = "flex",
    precision: str | None = None,
    threads: int | None = None,
    normalize: bool = False,
    progress: Any = None,
) -> Attribution:
    """Attribute ``V`` of ``X`` (float32/float64, ``[n, d]`` or ``[T, n, d]``) to its agents.

    ``indicator``: ``linear``, ``mult``, ``variance``, ``gini``, ``deepset`` (with ``model``,
    a model folder of ``aumann train``), a :class:`DeepSet`, a model folder, or a scenario
    folder of ``aumann simulate`` (with ``X=None``: its static risk at every step, see
    :func:`explain_scenario` for the rollout risk and one run or step); ``baseline``: ``zero``, ``mean``, ``first`` or a
    ``.npy`` path; ``method``: ``path`` (the path integral) or ``exact`` (closed form);
    ``rule``: ``midpoint``, ``trapezoid``, ``gauss`` (Captum's ``riemann_middle``,
    ``riemann_trapezoid``, ``gausslegendre`` too); ``precision`` defaults to X's dtype.
    ``progress``: ``True`` for a tqdm bar (when tqdm is installed), or a callable
    ``f(done, total)`` called after every chunk of the path integral.
    """
    if isinstance(indicator, (str, os.PathLike)) and os.path.isdir(indicator):
        folder = Path(indicator)
        if (folder / "scenario.json").is_file():
            if X is not None:
                raise InputError(
                    f"{folder} is a scenario folder: its features are attributed; pass X=None"
                )
            return _scenario_attribution(folder, rule, steps, backend, precision, progress)
        if (folder / "indicator.json").is_file():
            indicator = Formula.load(folder)
        else:
            indicator, model = "deepset", str(folder)
    X = _features(X)
    if isinstance(indicator, DeepSet):
        indicator, model = "deepset", indicator._folder()
    if isinstance(indicator, Formula):
        indicator, model = "formula", indicator.definition
    rule = _RULES.get(rule, rule)
    baseline_array = None
    if not isinstance(baseline, (str, os.PathLike)):
        baseline_array = np.ascontiguousarray(baseline, dtype=np.float64)
        baseline = "array"
    if model is not None and indicator == "variance":
        indicator = "deepset"
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

    args = (indicator, None if model is None else str(model), method, rule, int(steps),
            backend, precision, threads, bool(normalize))
    try:
        if X.ndim == 3 and X.nbytes > _CHUNK_BYTES and X.shape[0] > 1:
            return _explain_by_steps(X, args, baseline, baseline_array, progress)
        values, summary = _run(X, args, baseline, baseline_array, progress)
    finally:
        if bar is not None:
            bar.close()
    return Attribution(values, json.loads(summary))


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
    if isinstance(baseline, os.PathLike) or (
        isinstance(baseline, str) and baseline not in ("zero", "mean", "first", "array")
    ):
        baseline_array, baseline = np.load(baseline).astype(np.float64), "array"
    if baseline == "first":
        baseline_array, baseline = X[0].astype(np.float64), "array"
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
        values[t0:t1] = part
        del part
    merged["time_steps"] = T
    return Attribution(values, merged)


def attribute(
    X: np.ndarray,
    indicator: str = "variance",
    *,
    return_convergence_delta: bool = False,
    **options: Any,
):
    """φ for every agent (and step): :func:`explain`'s ``values``. With
    ``return_convergence_delta`` (Captum's spelling), ``(φ, δ)`` with
    ``δ = Σφ − (V(x) − V(b))`` per step."""
    a = explain(X, indicator, **options)
    if return_convergence_delta:
        return a.values, a.efficiency_gap
    return a.values


def exact(X: np.ndarray, indicator: str = "variance", *, baseline: str = "zero") -> np.ndarray:
    """φ by the closed form (the four analytic indicators), in f64."""
    return explain(X, indicator, baseline=baseline, method="exact", precision="f64").values


def evaluate(
    X: np.ndarray,
    indicator: str = "variance",
    *,
    model: str | None = None,
    backend: str = "flex",
    precision: str | None = None,
) -> np.ndarray:
    """``V`` of every step (row) of ``X`` (``[n, d]`` gives one value)."""
    X = _features(X)
    if isinstance(indicator, DeepSet):
        indicator, model = "deepset", indicator._folder()
    if isinstance(indicator, Formula):
        indicator, model = "formula", indicator.definition
    if model is not None and indicator == "variance":
        indicator = "deepset"
    return _call(
        _rust.evaluate, X, (indicator, None if model is None else str(model)), backend, precision
    )


def _label(v: Any) -> str:
    """A step or agent id as a person would write it (`30`, `'a7'`)."""
    v = v.item() if isinstance(v, np.generic) else v
    return repr(v) if isinstance(v, str) else str(v)


def from_long(
    table: Any,
    *,
    step: str,
    agent: str,
    features: list[str],
    fill: float | str = 0.0,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pivot a long per-agent table to ``X[T, n, d]``.

    ``table``: anything whose ``table[column]`` gives a column (a pandas or polars DataFrame,
    Mesa's ``DataCollector.get_agent_vars_dataframe().reset_index()``, a dict of arrays).
    Steps and agents are sorted; ``X[t, i, k]`` is ``features[k]`` of agent ``agents[i]`` at
    ``steps[t]``. An agent missing at a step gets ``fill`` (a number: the baseline value, 0 by
    default) or, with ``fill="raise"``, raises :class:`InputError` naming the step and agent.
    A repeated (step, agent) pair raises. Returns ``(X, steps, agents)``.
    """
    if not features:
        raise InputError("from_long needs at least one feature column")
    column = lambda name: np.asarray(table[name])  # noqa: E731
    steps_col, agents_col = column(step), column(agent)
    steps, t_index = np.unique(steps_col, return_inverse=True)
    agents, a_index = np.unique(agents_col, return_inverse=True)
    T, n, d = len(steps), len(agents), len(features)
    flat = t_index * n + a_index
    counts = np.bincount(flat, minlength=T * n)
    if np.any(counts > 1):
        j = int(np.argmax(counts > 1))
        raise InputError(
            f"step {_label(steps[j // n])}, agent {_label(agents[j % n])} appears "
            f"{int(counts[j])} times"
        )
    missing = counts == 0
    if fill == "raise":
        if np.any(missing):
            j = int(np.argmax(missing))
            raise InputError(
                f"agent {_label(agents[j % n])} has no row at step {_label(steps[j // n])}"
            )
        fill_value = 0.0
    elif isinstance(fill, str):
        raise InputError(f"fill is {fill!r}; expected a number or 'raise'")
    else:
        fill_value = float(fill)
    X = np.full((T * n, d), fill_value, dtype=dtype)
    for k, name in enumerate(features):
        values = column(name).astype(np.float64)
        bad = ~np.isfinite(values)
        if np.any(bad):
            r = int(np.argmax(bad))
            raise InputError(
                f"{name} is {values[r]} at step {_label(steps_col[r])}, agent "
                f"{_label(agents_col[r])}"
            )
        X[flat, k] = values
    return X.reshape(T, n, d), steps, agents


class DeepSet:
    """A learned indicator ``V = ρ(mean_i ψ(x_i))``, trained and stored as the model folders of
    ``aumann train``.

    >>> ds = aumann.DeepSet(hidden=32, depth=2, activation="tanh").fit(X, target_indicator="variance")
    >>> ds.predict(X)                       # V per population
    >>> aumann.attribute(X[0], ds)          # attribute it like any indicator
    >>> ds.save("my-model"); aumann.DeepSet.load("my-model")
    """

    def __init__(self, hidden: int = 32, depth: int = 2, activation: str = "tanh", seed: int = 7):
        self.hidden, self.depth, self.activation, self.seed = hidden, depth, activation, seed
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
            y = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
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
        config = json.loads((Path(directory) / "config.json").read_text())
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
    (numbers as float64 with NaN where a field is empty, text as str arrays)."""
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
    baseline: str = "zero",
) -> dict[str, dict[str, Any]]:
    """Attribution methods side by side on one step ``X[n, d]`` of an analytic indicator
    (``aumann compare``): ``{method: {"values": φ, "std_error": array or None, "seconds": s}}``.
    Methods: ``as-exact``, ``as-path``, ``loo``, ``shapley-sampled``,
    ``shapley-sampled-plain``, ``banzhaf-sampled``, ``shapley-exact``, ``banzhaf-exact`` (the
    exact coalition methods up to a few dozen agents)."""
    X = _features(X)
    runs = _call(
        _rust.compare, X, indicator, list(methods), samples, seed, antithetic, str(baseline)
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
    rule: str = "midpoint",
    steps: int = 32,
    backend: str = "flex",
    precision: str = "f64",
    progress: Any = None,
) -> dict[str, np.ndarray]:
    """A simulated society's risk (``aumann simulate``'s folder) attributed to its agents: the
    ``static`` risk of a step's features or the ``rollout`` risk after the scenario's horizon,
    by the path integral from the scenario's baseline action (``aumann attribute --scenario``).
    Returns ``{"values": φ [runs?, steps?, n], "output": V(x), "base_values": V(b)}``."""
    phi, v_x, v_b = _call(
        _rust.attribute_scenario, str(folder), indicator, run, step, _RULES.get(rule, rule),
        int(steps), backend, precision, progress,
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
