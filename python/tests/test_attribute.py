"""The engine from Python: golden fixtures, the CLI's own output, errors as exceptions."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import aumann

ROOT = Path(__file__).resolve().parents[2]
ORACLE = ROOT / "data" / "fixtures" / "oracle"
CLI = Path(os.environ.get("AUMANN_CLI", ROOT / "target" / "release" / "aumann"))
INDICATORS = ["linear", "mult", "variance", "gini"]


def cases():
    manifest = json.loads((ORACLE / "manifest.json").read_text())
    for name, entry in manifest.items():
        for indicator in INDICATORS:
            if indicator in entry:
                yield name, indicator, entry[indicator]


@pytest.mark.parametrize("name,indicator,expected", list(cases()))
@pytest.mark.parametrize("method", ["exact", "path"])
def test_fixtures_reproduce(name, indicator, expected, method):
    """SPEC §3.5: the closed form to 1e-9 of the largest |φ|; the path integral (midpoint,
    m = 32) to 1e-4 of it for linear, variance and Gini, 1e-3 for mult (its integrand is not
    polynomial along the path: O(1/m²))."""
    case = ORACLE / name
    x = np.load(case / "x.npy").astype(np.float64)
    golden = np.load(case / f"phi_{indicator}.npy")
    result = aumann.explain(
        x, indicator, baseline=str(case / "baseline.npy"), method=method, precision="f64"
    )
    scale = np.abs(golden).max()
    tol = 1e-9 if method == "exact" else (1e-3 if indicator == "mult" else 1e-4)
    assert np.abs(result.values - golden).max() <= tol * scale + 1e-12
    assert result.output[0] == pytest.approx(expected["V_x"], rel=1e-9)
    assert result.base_values[0] == pytest.approx(expected["V_b"], rel=1e-9, abs=1e-12)


@pytest.mark.skipif(not CLI.exists(), reason="the aumann binary is not built")
@pytest.mark.parametrize("indicator", INDICATORS)
def test_same_values_as_the_command_line(tmp_path, indicator):
    x = np.random.default_rng(3).lognormal(size=(4, 2000, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    subprocess.run(
        [str(CLI), "attribute", "--features", "x.npy", "--indicator", indicator,
         "--out", "phi.npy", "--summary", "s.json", "--quiet"],
        cwd=tmp_path, check=True,
    )
    cli = np.load(tmp_path / "phi.npy")
    ours = aumann.attribute(x, indicator)
    assert ours.shape == cli.shape == (4, 2000)
    np.testing.assert_array_equal(ours.astype(cli.dtype), cli)


def test_efficiency_shares_and_shapes():
    x = np.random.default_rng(1).lognormal(size=(5000, 3))
    a = aumann.explain(x, "gini")
    assert a.values.shape == (5000,)
    assert a.values.sum() == pytest.approx(a.output[0] - a.base_values[0], rel=1e-6)
    assert a.shares().sum() == pytest.approx(1.0, rel=1e-6)
    a3 = aumann.explain(x[None].repeat(2, axis=0), "variance", rule="riemann_middle")
    assert a3.values.shape == (2, 5000)


def test_to_shap_is_additive():
    shap = pytest.importorskip("shap", reason="shap is not installed: to_shap() not checked")
    a = aumann.explain(np.random.default_rng(2).lognormal(size=(300, 3)), "variance")
    e = a.to_shap()
    assert e.base_values + e.values.sum() == pytest.approx(a.output[0], rel=1e-6)
    assert shap is not None


@pytest.mark.parametrize(
    "x,kwargs,error,needle",
    [
        (np.ones((10, 3), dtype=np.int64), {}, aumann.InputError, "float32 or float64"),
        (np.ones((2, 2, 2, 2)), {}, aumann.InputError, "[n, d] or [T, n, d]"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), {}, aumann.InputError, "agent 0"),
        (np.ones((10, 3)), {"indicator": "entropy"}, aumann.InputError, "entropy"),
        (np.ones((10, 3)), {"rule": "simpson"}, aumann.InputError, "simpson"),
        (np.ones((10, 3)), {"steps": 0}, aumann.InputError, "0"),
        (np.ones((10, 3)), {"backend": "cuda"}, aumann.InputError, "cuda"),
        (np.ones((10, 3)), {"indicator": "deepset"}, aumann.InputError, "model"),
    ],
)
def test_bad_input_raises_the_documented_exception(x, kwargs, error, needle):
    indicator = kwargs.pop("indicator", "variance")
    with pytest.raises(error) as info:
        aumann.attribute(x, indicator, **kwargs)
    assert needle in str(info.value)
    assert isinstance(info.value, aumann.AumannError)
