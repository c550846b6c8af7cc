"""The inequality and concentration indices as built-in indicators: their values are the
textbook formulas computed here with numpy, their attributions add up from the mean and from
the previous step, their parameters are named in the indicator's text."""

import numpy as np
import pytest

import aumann


def population(steps=3, n=120, d=2, seed=3):
    rng = np.random.default_rng(seed)
    return np.exp(rng.uniform(-1.5, 1.5, (steps, n, d))) / d


def top_share(c, p, tau):
    """The smoothed top-p share with its cut found by bisection."""
    y = c / c.mean()
    lo, hi = y.min() / tau - 50, y.max() / tau + 50
    for _ in range(200):
        r = 0.5 * (lo + hi)
        if (1 / (1 + np.exp(-(y / tau - r)))).mean() > p:
            lo = r
        else:
            hi = r
    return (y / (1 + np.exp(-(y / tau - r)))).mean()


def textbook(name, c):
    mu = c.mean()
    sigmoid = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    return {
        "theil": ((c / mu) * np.log(c / mu)).mean(),
        "atkinson": 1 - np.sqrt(c).mean() ** 2 / mu,
        "atkinson(epsilon=2)": 1 - 1 / (1 / c).mean() / mu,
        "atkinson(epsilon=1)": 1 - np.exp(np.log(c).mean()) / mu,
        "coefficient_of_variation": c.std() / mu,
        "top_share(p=0.2, tau=0.1)": top_share(c, 0.2, 0.1),
        "share_above(threshold=1, tau=0.2)": sigmoid((c - 1) / 0.2).mean(),
        "share_below(threshold=0.4)": sigmoid((0.4 - c) / 0.02).mean(),
    }[name]


NAMES = [
    "theil",
    "atkinson",
    "atkinson(epsilon=2)",
    "atkinson(epsilon=1)",
    "coefficient_of_variation",
    "top_share(p=0.2, tau=0.1)",
    "share_above(threshold=1, tau=0.2)",
    "share_below(threshold=0.4)",
]


@pytest.mark.parametrize("name", NAMES)
def test_values_are_the_textbook_formulas(name):
    X = population()
    c = X.sum(-1)
    want = [textbook(name, c[t]) for t in range(len(c))]
    np.testing.assert_allclose(aumann.evaluate(X, name), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES[:6])
@pytest.mark.parametrize("baseline", ["mean", "previous"])
def test_attributions_add_up(name, baseline):
    X = population()
    a = aumann.explain(X, name, baseline=baseline, rule="gauss", steps=96, precision="f64")
    total = a.values.sum(-1)
    change = a.output - a.base_values
    np.testing.assert_allclose(total, change, rtol=1e-9, atol=1e-12)
    if baseline == "mean" and not name.startswith("top_share"):
        # Everyone at the mean has no inequality: the parts add up to the index itself.
        np.testing.assert_allclose(total, aumann.evaluate(X, name), rtol=1e-9)


def test_parameters_are_checked_and_domains_named():
    X = population()
    with pytest.raises(aumann.AumannError, match="unknown parameter 'eps'; 'atkinson' takes epsilon"):
        aumann.evaluate(X, "atkinson(eps=2)")
    with pytest.raises(aumann.AumannError, match="threshold is not given"):
        aumann.evaluate(X, "share_above")
    X[1, 5, :] = [-1.0, 0.5]
    with pytest.raises(aumann.AumannError, match=r"step 1.*agent 5's composite is -0.5"):
        aumann.explain(X, "theil", baseline="mean")
