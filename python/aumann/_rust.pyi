"""The compiled engine (see the `aumann` package for the documented API)."""

import numpy as np

__version__: str

class EngineError(Exception):
    """`(kind, message)`: kind is "input", "backend" or "io"."""

def attribute(
    x: np.ndarray,
    indicator: tuple[str, str | None],
    baseline: str,
    method: str,
    rule: str,
    steps: int,
    backend: str,
    precision: str | None,
    threads: int | None,
    normalize: bool,
    progress: object = None,
    baseline_array: np.ndarray | None = None,
) -> tuple[np.ndarray, str]: ...

def evaluate(
    x: np.ndarray, indicator: tuple[str, str | None], backend: str, precision: str | None
) -> np.ndarray: ...

def train_deepset(
    x: np.ndarray,
    y: np.ndarray | None,
    target_indicator: str | None,
    dir: str,
    hidden: int,
    depth: int,
    activation: str,
    epochs: int,
    lr: float,
    batch: int,
    seed: int,
    val_fraction: float,
    patience: int,
) -> str: ...

def run_study(
    out: str,
    panel: str | None,
    agents: int,
    days: int,
    panel_seed: int,
    seed: int,
    seeds: int,
    sizes: list[int],
    indicators: list[str],
    protocols: list[str],
    progress: object = None,
) -> None: ...

def compare(
    x: np.ndarray,
    indicator: str,
    methods: list[str],
    samples: int,
    seed: int,
    antithetic: bool,
    baseline: str,
) -> list[tuple[str, np.ndarray, np.ndarray | None, float]]: ...

def attribute_scenario(
    dir: str,
    which: str,
    run: int | None,
    step: int | None,
    rule: str,
    steps: int,
    backend: str,
    precision: str,
    progress: object = None,
) -> tuple[np.ndarray, list[float], list[float]]: ...
