"""Captum's and SHAP's conventions: keyword aliases, an explainer object, the dtypes NumPy
users pass, and shap's plots from `Attribution.to_shap()`."""

import numpy as np
import pytest
from conftest import optional

import aumann

INDICATORS = ["linear", "mult", "variance", "gini"]


def population(seed=0, shape=(4, 300, 3)):
    return np.random.default_rng(seed).lognormal(size=shape)


@pytest.mark.parametrize("indicator", INDICATORS)
@pytest.mark.parametrize(
    "captum,rule", [("riemann_middle", "midpoint"), ("riemann_trapezoid", "trapezoid"),
                    ("gausslegendre", "gauss")]
)
def test_captums_names_give_the_native_call_bit_for_bit(indicator, captum, rule):
    x = population(1)
    ours = aumann.attribute(x, indicator, n_steps=32, baselines=0, method=captum)
    native = aumann.attribute(x, indicator, steps=32, baseline="zero", rule=rule)
    assert ours.dtype == native.dtype and ours.shape == native.shape == (4, 300)
    np.testing.assert_array_equal(ours, native)
    # The number of points really is n_steps: another count gives other values for mult,
    # whose integrand is not linear along the path.
    if indicator == "mult":
        assert not np.array_equal(
            aumann.attribute(x, indicator, n_steps=3, baselines=0, method=captum), native
        )


def test_a_number_as_the_baseline_is_every_coordinate():
    x = population(2)
    b = 0.5
    np.testing.assert_array_equal(
        aumann.attribute(x, "mult", baselines=b), aumann.attribute(x, "mult", baseline=np.full(3, b))
    )
    e = aumann.explain(x, "variance", baselines=np.full(3, 2.0), n_steps=8)
    assert e.summary["points"] == 8 and e.summary["baseline"] == "<numpy array>"


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"steps": 32, "n_steps": 32}, "steps=32 and n_steps=32 are the same option"),
        ({"baseline": "zero", "baselines": 0}, "baseline='zero' and baselines=0"),
        ({"method": "riemann_middle", "rule": "midpoint"}, "give one"),
        ({"method": "riemann_left"}, "riemann_left"),
        ({"method": "riemann_right"}, "rule='midpoint', 'trapezoid' or 'gauss'"),
        ({"rule": "riemann_left"}, "no equivalent"),
        ({"method": "simpson"}, "'path'"),
    ],
)
def test_an_option_under_both_names_or_without_an_equivalent_is_refused(kwargs, needle):
    with pytest.raises(aumann.InputError) as info:
        aumann.attribute(population(3), "gini", **kwargs)
    assert needle in str(info.value)
    with pytest.raises(aumann.InputError):  # the explainer refuses it when it is made
        aumann.Explainer("gini", **kwargs)


def test_captums_names_elsewhere():
    x = population(4, (300, 3))
    np.testing.assert_array_equal(
        aumann.exact(x, "gini", baselines="mean"), aumann.exact(x, "gini", baseline="mean")
    )
    by_alias = aumann.compare(x[:12], "variance", methods=("as-exact",), baselines="mean")
    native = aumann.compare(x[:12], "variance", methods=("as-exact",), baseline="mean")
    np.testing.assert_array_equal(by_alias["as-exact"]["values"], native["as-exact"]["values"])
    with pytest.raises(aumann.InputError, match="give one"):
        aumann.exact(x, "gini", baseline="mean", baselines="mean")


def test_the_explainer_returns_what_explain_returns():
    x = population(5)
    explainer = aumann.Explainer("gini", n_steps=16, baselines="mean")
    a = explainer(x)
    ref = aumann.explain(x, "gini", steps=16, baseline="mean")
    assert isinstance(a, aumann.Attribution)
    np.testing.assert_array_equal(a.values, ref.values)
    np.testing.assert_array_equal(a.output, ref.output)
    np.testing.assert_array_equal(a.base_values, ref.base_values)
    np.testing.assert_array_equal(explainer.shap_values(x), ref.values)
    assert "n_steps=16" in repr(explainer)
    with pytest.raises(aumann.InputError, match="unknown option stepz"):
        aumann.Explainer("gini", stepz=3)


@pytest.mark.parametrize(
    "dtype", [np.int64, np.int32, np.uint8, np.bool_, ">f8", ">i4", ">f4"]
)
def test_integer_boolean_and_big_endian_arrays_are_cast(dtype):
    # Values every dtype holds exactly, as float64 they are the reference.
    x = np.random.default_rng(6).integers(0, 2 if dtype is np.bool_ else 50, size=(3, 40, 2))
    ref = aumann.explain(x.astype(np.float64), "variance")
    ref32 = aumann.explain(x.astype(np.float32), "variance")
    a = aumann.explain(x.astype(dtype), "variance")
    if np.dtype(dtype).kind == "f":  # the width is kept: float32 stays float32 (precision)
        expected = ref32 if np.dtype(dtype).itemsize == 4 else ref
        assert a.summary["precision"] == ("f32" if np.dtype(dtype).itemsize == 4 else "f64")
    else:
        expected = ref
        assert a.summary["precision"] == "f64"
    np.testing.assert_array_equal(a.values, expected.values)
    np.testing.assert_array_equal(a.output, expected.output)
    reference = x.astype(np.float32 if np.dtype(dtype) == np.dtype(">f4") else np.float64)
    np.testing.assert_array_equal(
        aumann.evaluate(x.astype(dtype), "variance"), aumann.evaluate(reference, "variance")
    )


@pytest.mark.parametrize(
    "x,needles",
    [
        (np.ones((10, 3), dtype=np.complex128), ["complex128", "float32 or float64"]),
        (np.array([["a", "b"], ["c", "d"]]), ["<U1", "float32 or float64"]),
        (np.ones((10, 3), dtype=np.float16), ["float16", "integer and boolean"]),
        ([[1.0, 2.0], [3.0]], ["cannot be read as a NumPy array"]),
    ],
)
def test_other_dtypes_are_refused_naming_theirs(x, needles):
    with pytest.raises(aumann.InputError) as info:
        aumann.attribute(x, "variance")
    for needle in needles:
        assert needle in str(info.value)


def test_to_shap_carries_agents_and_data():
    optional("shap")
    x = population(7, (5, 30, 2))
    a = aumann.explain(x, "gini")
    e = a.to_shap()
    assert e.values.shape == e.data.shape == (5, 30)
    assert list(e.feature_names) == [f"agent_{i}" for i in range(30)]
    np.testing.assert_array_equal(e.data, x.sum(axis=-1))  # each agent's composite
    np.testing.assert_allclose(e.base_values + e.values.sum(axis=1), a.output, rtol=1e-6)
    named = a.to_shap(agents=[f"a{i}" for i in range(30)])
    assert named.feature_names[3] == "a3"
    one = aumann.explain(x[0], "gini").to_shap(agents=np.arange(100, 130))
    assert one.values.shape == one.data.shape == (30,) and one.feature_names[0] == "100"
    with pytest.raises(aumann.InputError, match="agents has 3 names; the attribution has 30"):
        a.to_shap(agents=["a", "b", "c"])


def test_every_shap_plot_renders(tmp_path):
    shap = optional("shap")
    matplotlib = optional("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = population(8, (12, 40, 2))
    e = aumann.explain(x, "gini").to_shap()
    plots = {
        "bar": lambda: shap.plots.bar(e, show=False),
        "beeswarm": lambda: shap.plots.beeswarm(e, show=False),
        "heatmap": lambda: shap.plots.heatmap(e, show=False),
        "waterfall": lambda: shap.plots.waterfall(e[3], show=False),
        "waterfall_one_step": lambda: shap.plots.waterfall(
            aumann.explain(x[3], "gini").to_shap(), show=False
        ),
    }
    for name, draw in plots.items():
        plt.figure()
        draw()
        path = tmp_path / f"{name}.png"
        plt.savefig(path)
        plt.close("all")
        data = path.read_bytes()
        assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n", name
