"""Formula indicators from Python: the same φ as the built-in indicator they restate, from an
object or a folder, and clear errors for formulas that cannot work."""

import numpy as np
import pytest

import aumann


def population(seed=3, shape=(2, 300, 3)):
    return np.random.default_rng(seed).uniform(0.05, 1.5, size=shape)


def test_formula_variance_matches_the_builtin():
    X = population()
    variance = aumann.formula(psi=["c", "c^2"], rho="m1 - m0^2", name="variance_formula")
    got = aumann.explain(X, variance, precision="f64")
    want = aumann.explain(X, "variance", precision="f64")
    scale = np.abs(want.values).max()
    assert np.abs(got.values - want.values).max() <= 1e-10 * scale
    assert got.summary["formula"]["name"] == "variance_formula"
    assert np.allclose(aumann.evaluate(X, variance, precision="f64"), want.output, rtol=1e-12)


def test_a_named_formula_in_a_folder_attributes_like_the_object(tmp_path):
    X = population(shape=(400, 3))
    share = aumann.formula(
        psi={"below": "sigmoid((2.5 - c) / 0.25)"},
        rho="below",
        features=["reach", "activity", "resonance"],
    )
    share.save(tmp_path / "share")
    by_object = aumann.explain(X, share, precision="f64", rule="gauss", steps=64)
    by_folder = aumann.explain(X, str(tmp_path / "share"), precision="f64", rule="gauss", steps=64)
    assert np.array_equal(by_object.values, by_folder.values)
    gap = by_object.values.sum() - (by_object.output - by_object.base_values)
    assert np.abs(gap).max() <= 1e-10 * np.abs(by_object.output - by_object.base_values).max()


def test_formulas_that_cannot_work_raise_input_errors():
    with pytest.raises(aumann.InputError, match="unknown name 'welth'"):
        aumann.formula(psi="sigmoid(1 - welth)", rho="m0", features=["wealth"])
    with pytest.raises(aumann.InputError, match="evaluates to -inf"):
        aumann.formula(psi="c * ln(0)", rho="m0")
    two = aumann.formula(psi="a * b", rho="m0", features=["a", "b"])
    with pytest.raises(aumann.InputError, match="names 2 features .* d = 3"):
        aumann.explain(population(), two)
