"""The engine from Python: golden fixtures, the CLI's own output, errors as exceptions."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import optional

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
    m = 32) in f64 to 1e-10 of it for linear, variance and Gini (their integrands are
    polynomial of degree ≤ 1 along the path, so the midpoint rule is exact up to rounding, as
    the Rust suite holds it), 1e-3 for mult (its integrand is not: O(1/m²))."""
    case = ORACLE / name
    x = np.load(case / "x.npy").astype(np.float64)
    golden = np.load(case / f"phi_{indicator}.npy")
    result = aumann.explain(
        x, indicator, baseline=str(case / "baseline.npy"), method=method, precision="f64"
    )
    scale = np.abs(golden).max()
    tol = 1e-9 if method == "exact" else (1e-3 if indicator == "mult" else 1e-10)
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
    shap = optional("shap")
    a = aumann.explain(np.random.default_rng(2).lognormal(size=(300, 3)), "variance")
    e = a.to_shap()
    assert isinstance(e, shap.Explanation)
    np.testing.assert_array_equal(e.values, a.values)
    # Additive to the indicator's value, computed here independently: the population variance
    # of the composite, from the zero baseline (V = 0).
    x = np.random.default_rng(2).lognormal(size=(300, 3))
    assert e.base_values + e.values.sum() == pytest.approx(np.var(x.sum(axis=1)), rel=1e-4)


@pytest.mark.parametrize(
    "x,kwargs,error,needle",
    [
        (np.ones((10, 3), dtype=np.complex64), {}, aumann.InputError, "float32 or float64"),
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


def test_exact_and_evaluate_agree_with_the_path():
    x = np.random.default_rng(5).lognormal(size=(3, 4000, 3))
    path = aumann.explain(x, "variance", precision="f64")
    np.testing.assert_allclose(aumann.exact(x, "variance"), path.values, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(aumann.evaluate(x, "variance"), path.output, rtol=1e-12)
    model = ROOT / "models" / "deepset-variance"
    v = aumann.evaluate(x.astype(np.float32), model=str(model))
    assert v.shape == (3,) and np.all(np.isfinite(v))


def test_threads_per_call():
    x = np.random.default_rng(6).lognormal(size=(20000, 3)).astype(np.float32)
    one = aumann.explain(x, "gini", threads=1)
    two = aumann.explain(x, "gini", threads=2)
    np.testing.assert_array_equal(one.values, two.values)
    assert one.summary["threads"] == 1 and two.summary["threads"] == 2


CHILD = """
import os, signal, sys
import numpy as np, aumann
# A child started in the background by a shell inherits SIGINT ignored, and Python then keeps
# it ignored; the test is about Python's own Ctrl-C handler, so it puts that back.
signal.signal(signal.SIGINT, signal.default_int_handler)
x = np.random.default_rng(0).lognormal(size=(40, 200000, 3)).astype(np.float32)
seen = []
def progress(done, total):
    seen.append((done, total))
    if len(seen) == 1:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C once the run is under way
try:
    aumann.attribute(x, "gini", steps=64, progress=progress)
except KeyboardInterrupt:
    done, total = seen[-1]
    print(f"interrupted at {done} of {total} after {len(seen)} reports")
    sys.exit(0)
print("finished without an interrupt")
sys.exit(1)
"""


def test_ctrl_c_raises_keyboard_interrupt_within_a_chunk():
    """A SIGINT during a run stops it at the next progress report, as a KeyboardInterrupt and
    nothing else: no panic message. The signal is sent from the first progress report (a
    state of the run), so the outcome does not depend on how loaded the machine is."""
    import sys

    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    words = done.stdout.split()
    at, total, reports = int(words[2]), int(words[4]), int(words[6])
    assert at < total and reports == 1, done.stdout
    assert "panicked" not in done.stderr and "RUST_BACKTRACE" not in done.stderr, done.stderr


def _attribute_in_child(queue):
    try:
        aumann.attribute(np.ones((10, 3)), "linear")
        queue.put("ran")
    except aumann.AumannError as e:
        queue.put(f"raised: {e}")


def test_a_forked_child_raises_instead_of_hanging():
    import multiprocessing

    aumann.attribute(np.ones((10, 3)), "linear")  # the parent's threads exist now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_attribute_in_child, args=(queue,))
    child.start()
    child.join(300)
    assert child.exitcode == 0
    message = queue.get(timeout=60)
    assert message.startswith("raised:") and "spawn" in message, message


def test_from_long_pivots_a_mesa_style_table():
    # Steps 1..3, agents 10, 20, 30; agent 30 is missing at step 2.
    rows = [(s, a) for s in (1, 2, 3) for a in (30, 10, 20) if (s, a) != (2, 30)]
    table = {
        "Step": np.array([r[0] for r in rows]),
        "AgentID": np.array([r[1] for r in rows]),
        "wealth": np.array([float(s * 100 + a) for s, a in rows]),
        "opinion": np.array([float(-a) for s, a in rows]),
    }
    X, steps, agents = aumann.from_long(table, step="Step", agent="AgentID", features=["wealth", "opinion"])
    assert X.shape == (3, 3, 2) and list(steps) == [1, 2, 3] and list(agents) == [10, 20, 30]
    assert X[0, 2].tolist() == [130.0, -30.0]
    assert X[1, 2].tolist() == [0.0, 0.0]  # missing: the fill (the zero baseline)
    with pytest.raises(aumann.InputError, match="agent 30 has no row at step 2"):
        aumann.from_long(table, step="Step", agent="AgentID", features=["wealth"], fill="raise")
    twice = {k: np.concatenate([v, v[:1]]) for k, v in table.items()}
    with pytest.raises(aumann.InputError, match="appears 2 times"):
        aumann.from_long(twice, step="Step", agent="AgentID", features=["wealth"])
    assert aumann.attribute(X, "linear").shape == (3, 3)


@pytest.mark.skipif(not CLI.exists(), reason="the aumann binary is not built")
def test_the_command_line_import_pivots_as_from_long(tmp_path):
    rng = np.random.default_rng(9)
    rows = [(s, a) for s in range(1, 13) for a in rng.permutation(50) if rng.random() > 0.1]
    table = {
        "Step": np.array([r[0] for r in rows]),
        "AgentID": np.array([r[1] for r in rows]),
        "wealth": rng.lognormal(size=len(rows)),
        "opinion": rng.normal(size=len(rows)),
    }
    lines = ["Step,AgentID,wealth,opinion"] + [
        f"{s},{a},{float(w)!r},{float(o)!r}" for s, a, w, o in zip(*table.values())
    ]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    subprocess.run(
        [str(CLI), "import", "--csv", "t.csv", "--step", "Step", "--agent", "AgentID",
         "--features", "wealth,opinion", "--out", "x.npy"],
        cwd=tmp_path, check=True, capture_output=True,
    )
    X, _, _ = aumann.from_long(table, step="Step", agent="AgentID", features=["wealth", "opinion"])
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), X)
    refused = subprocess.run(
        [str(CLI), "import", "--csv", "t.csv", "--step", "Step", "--agent", "AgentID",
         "--features", "wealth", "--fill", "raise", "--out", "y.npy"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert refused.returncode != 0 and "has no row at step" in refused.stderr
    assert not (tmp_path / "y.npy").exists()


def test_progress_reaches_the_total():
    seen = []
    x = np.random.default_rng(4).lognormal(size=(6, 3000, 3)).astype(np.float32)
    aumann.attribute(x, "gini", progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:]))


def test_baseline_arrays_and_the_convergence_delta():
    x = np.random.default_rng(8).lognormal(size=(2, 500, 3))
    b = np.full(3, 0.5)
    as_array = aumann.explain(x, "variance", baseline=b, precision="f64")
    np.testing.assert_allclose(as_array.base_values, aumann.evaluate(np.broadcast_to(b, x.shape).copy(), "variance"))
    phi, delta = aumann.attribute(x, "variance", baseline=x[0], return_convergence_delta=True)
    assert phi.shape == (2, 500) and delta.shape == (2,)
    assert np.all(np.abs(delta) <= 1e-6 * np.abs(phi).sum())
    with pytest.raises(aumann.InputError, match=r"expected \[3\], \[500, 3\] or \[2, 500, 3\]"):
        aumann.attribute(x, baseline=np.zeros(4))


def test_a_deepset_fits_saves_loads_and_attributes(tmp_path):
    rng = np.random.default_rng(11)
    X = rng.lognormal(sigma=rng.uniform(0.2, 1.0, size=(160, 1, 1)), size=(160, 64, 3)).astype(np.float32)
    ds = aumann.DeepSet(hidden=8, depth=2, activation="square", seed=3).fit(
        X, target_indicator="variance", epochs=300
    )
    assert ds.report["epochs_run"] >= 1
    # A width-8 square DeepSet can represent the variance exactly (models/deepset-variance
    # is one): on populations it never saw, it must explain most of the variance's spread.
    held_out = rng.lognormal(sigma=rng.uniform(0.2, 1.0, size=(48, 1, 1)), size=(48, 64, 3))
    held_out = held_out.astype(np.float32)
    pred, truth = ds.predict(held_out), aumann.evaluate(held_out, "variance")
    assert pred.shape == (48,)
    r2 = 1 - ((pred - truth) ** 2).sum() / ((truth - truth.mean()) ** 2).sum()
    assert r2 >= 0.9, r2
    pred = ds.predict(X)
    ds.save(tmp_path / "model")
    again = aumann.DeepSet.load(tmp_path / "model")
    np.testing.assert_allclose(again.predict(X), pred, rtol=1e-6)
    # V is a polynomial in α along the path (square activations): Gauss–Legendre with 32
    # nodes integrates it exactly, so the gap is f32 rounding, under the contract's 1e-4.
    a = aumann.explain(X[0], again, rule="gauss")
    assert a.values.shape == (64,) and abs(a.efficiency_gap[0]) <= 1e-4 * abs(a.output[0] - a.base_values[0])
    with pytest.raises(aumann.InputError, match="fit"):
        aumann.DeepSet().predict(X)
    shipped = aumann.DeepSet.load(ROOT / "models" / "deepset-variance")
    assert shipped.hidden == 8 and shipped.activation == "square"


@pytest.mark.skipif(not CLI.exists(), reason="the aumann binary is not built")
def test_study_from_python_writes_what_the_command_line_writes(tmp_path):
    tables = aumann.study(tmp_path / "py", agents=5000, days=5, seeds=3, sizes=(100,))
    subprocess.run(
        [str(CLI), "study", "--out", "cli", "--agents", "5000", "--days", "5", "--seeds", "3",
         "--sizes", "100", "--quiet"],
        cwd=tmp_path, check=True,
    )
    for name in ["shares.csv", "residuals.csv", "anchors.csv", "daily_small.csv"]:
        assert (tmp_path / "py" / name).read_text() == (tmp_path / "cli" / name).read_text(), name
    shares = tables["shares"]
    assert len(shares["topic"]) == 5 * 4 * (1 + 5)
    full = shares["protocol"] == "full"
    np.testing.assert_allclose(
        shares["top_mean"][full] + shares["mid_mean"][full] + shares["tail_mean"][full],
        1.0,
        atol=3e-8,  # the CSV's eight decimals
    )


def test_compare_agrees_with_exact_shapley_on_a_small_population():
    x = np.random.default_rng(12).lognormal(size=(10, 3))
    out = aumann.compare(x, "variance", methods=("as-exact", "shapley-exact", "loo"))
    # The Aumann–Shapley value of V_var is not the Shapley value in general, but both are
    # efficient: they sum to V(x) − V(b).
    total = out["as-exact"]["values"].sum()
    assert out["shapley-exact"]["values"].sum() == pytest.approx(total, rel=1e-9)
    assert out["loo"]["std_error"] is None
    with pytest.raises(aumann.InputError, match="one step"):
        aumann.compare(np.ones((2, 10, 3)), "linear")


def test_large_arrays_go_to_the_engine_a_group_of_steps_at_a_time(monkeypatch):
    x = np.random.default_rng(13).lognormal(size=(5, 3000, 3)).astype(np.float32)
    whole = {b if isinstance(b, str) else "array": aumann.explain(x, "gini", baseline=b)
             for b in ("zero", "mean", "first", x[2])}
    monkeypatch.setattr(aumann, "_CHUNK_BYTES", x[0].nbytes * 2)  # groups of two steps
    for b in ("zero", "mean", "first", x[2]):
        grouped = aumann.explain(x, "gini", baseline=b)
        ref = whole[b if isinstance(b, str) else "array"]
        np.testing.assert_array_equal(grouped.values, ref.values)
        np.testing.assert_array_equal(grouped.output, ref.output)
        np.testing.assert_array_equal(grouped.base_values, ref.base_values)
        # The summary's key is "T", as the command line writes it.
        assert grouped.summary["T"] == ref.summary["T"] == 5 and "time_steps" not in grouped.summary
        assert grouped.summary["baseline"] == ref.summary["baseline"]


def test_eval_is_evaluate():
    x = np.random.default_rng(14).lognormal(size=(2, 100, 3))
    np.testing.assert_array_equal(aumann.eval(x, "gini"), aumann.evaluate(x, "gini"))


@pytest.mark.skipif(not CLI.exists(), reason="the aumann binary is not built")
def test_a_scenario_folder_attributes_as_the_command_line_does(tmp_path):
    subprocess.run(
        [str(CLI), "simulate", "econ", "--agents", "200", "--steps", "6", "--out", "econ"],
        cwd=tmp_path, check=True, capture_output=True,
    )
    ours = aumann.explain_scenario(tmp_path / "econ", "static", step=3)
    gauss = aumann.explain_scenario(tmp_path / "econ", "static", step=3, rule="gauss", steps=32)
    subprocess.run(
        [str(CLI), "attribute", "--scenario", "econ", "--indicator", "static", "--step", "3",
         "--precision", "f64", "--out", "phi.npy", "--summary", "s.json", "--quiet"],
        cwd=tmp_path, check=True, capture_output=True,
    )
    np.testing.assert_allclose(ours["values"], np.load(tmp_path / "phi.npy"), rtol=1e-12, atol=1e-15)
    # Efficiency to the contract's f64 bound (SPEC §3.5: 1e-10 relative) with a rule whose
    # quadrature error on this smooth risk is below rounding.
    change = gauss["output"] - gauss["base_values"]
    assert gauss["values"].sum() == pytest.approx(change.sum(), rel=1e-10)
    with pytest.raises(aumann.InputError):
        aumann.explain_scenario(tmp_path / "nowhere")


def test_folders_as_the_indicator():
    model = ROOT / "models" / "deepset-variance"
    x = np.random.default_rng(15).lognormal(size=(300, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        aumann.attribute(x, str(model)), aumann.attribute(x, "deepset", model=str(model))
    )


@pytest.mark.skipif(not CLI.exists(), reason="the aumann binary is not built")
def test_a_scenario_folder_as_the_indicator(tmp_path):
    subprocess.run(
        [str(CLI), "simulate", "econ", "--agents", "100", "--steps", "4", "--out", "econ"],
        cwd=tmp_path, check=True, capture_output=True,
    )
    a = aumann.explain(None, tmp_path / "econ")
    assert a.values.shape == (4, 100) and a.output.shape == (4,)
    np.testing.assert_array_equal(a.values, aumann.explain_scenario(tmp_path / "econ")["values"])
    with pytest.raises(aumann.InputError, match="X=None"):
        aumann.explain(np.ones((100, 3)), tmp_path / "econ")


@pytest.mark.skipif(not CLI.exists(), reason="the aumann binary is not built")
@pytest.mark.parametrize(
    "x,indicator,method,extra",
    [
        (np.array([[1.0, 2.0, 3.0]]), "variance", "path", {}),
        (np.array([[1.0, 2.0, 3.0]]), "gini", "exact", {}),
        (np.array([[1.0, -1.0], [2.0, -2.0], [1.0, 0.5]]), "mult", "path", {}),
        (np.array([[1.0, -1.0], [2.0, -2.0], [1.0, 0.5]]), "mult", "exact", {}),
        (np.array([[[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, np.inf]]]), "linear", "path", {}),
        (np.ones((5, 3)), "linear", "path", {"normalize": True, "baseline": "mean"}),
        (np.ones((5, 3)), "variance", "path", {"steps": 0}),
    ],
)
def test_bad_input_gives_the_command_lines_message(tmp_path, x, indicator, method, extra):
    np.save(tmp_path / "x.npy", x)
    args = [str(CLI), "attribute", "--features", "x.npy", "--indicator", indicator, "--method",
            method, "--precision", "f64", "--out", "phi.npy", "--quiet"]
    if extra.get("normalize"):
        args.append("--normalize")
    if "baseline" in extra:
        args += ["--baseline", extra["baseline"]]
    if "steps" in extra:
        args += ["--steps", str(extra["steps"])]
    cli = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True)
    assert cli.returncode != 0
    with pytest.raises(aumann.InputError) as info:
        aumann.attribute(x, indicator, method=method, precision="f64", **extra)
    ours = str(info.value)
    # The CLI's line is "error: <message>" (with the file named where the library names X).
    message = cli.stderr.strip().removeprefix("error: ")
    assert ours.replace("X", "x.npy") in message or ours in message, (ours, message)


def test_from_long_names_a_missing_column_and_lists_the_others():
    table = {"Step": np.array([1, 1, 2]), "AgentID": np.array([1, 2, 1]), "wealth": np.ones(3)}
    with pytest.raises(aumann.InputError) as info:
        aumann.from_long(table, step="Step", agent="AgentID", features=["Wealth"])
    assert "feature column 'Wealth'" in str(info.value)
    assert "'Step', 'AgentID', 'wealth'" in str(info.value)
    with pytest.raises(aumann.InputError, match="agent column 'agent_id'"):
        aumann.from_long(table, step="Step", agent="agent_id", features=["wealth"])
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(table).set_index(["Step", "AgentID"])  # as Mesa's DataCollector gives it
    X, steps, agents = aumann.from_long(frame, step="Step", agent="AgentID", features=["wealth"])
    assert X.shape == (2, 2, 1) and list(steps) == [1, 2] and list(agents) == [1, 2]
    with pytest.raises(aumann.InputError) as info:
        aumann.from_long(frame, step="step", agent="AgentID", features=["wealth"])
    assert "columns are 'wealth' (and its index levels 'Step', 'AgentID')" in str(info.value)


@pytest.mark.parametrize(
    "table,kwargs,needle",
    [
        ({"s": [1, 2], "a": [1, 1], "w": [1.0, 2.0]}, {"fill": float("nan")}, "finite"),
        ({"s": [1, 2], "a": [1, 1], "w": [1.0, 1e39]}, {}, "does not fit float32"),
        ({"s": [1, 2], "a": [1, 1], "w": [1.0, 2.0, 3.0]}, {}, "has 3 rows"),
        ({"s": [], "a": [], "w": []}, {}, "no rows"),
        ({"s": [1, 2], "a": [1, 1], "w": ["x", "y"]}, {}, "expected numbers"),
        ({"s": [1, 2], "a": [1, 1], "w": [1.0, 2.0]}, {"dtype": np.int64}, "float32 or float64"),
    ],
)
def test_from_long_refuses_what_it_cannot_pivot(table, kwargs, needle):
    table = {k: np.asarray(v) for k, v in table.items()}
    with pytest.raises(aumann.InputError, match=needle):
        aumann.from_long(table, step="s", agent="a", features="w", **kwargs)


def test_an_unknown_baseline_name_lists_the_accepted_ones(tmp_path):
    x = np.random.default_rng(16).lognormal(size=(50, 3))
    with pytest.raises(aumann.InputError) as info:
        aumann.attribute(x, "gini", baseline="median")
    message = str(info.value)
    assert "'median'" in message and "zero, mean, first" in message and ".npy" in message
    assert "No such file" not in message
    with pytest.raises(aumann.InputError, match="zero, mean, first"):
        aumann.compare(x[:10], "gini", baseline="median")
    np.save(tmp_path / "b.npy", np.full(3, 0.25))  # a file is still a baseline
    np.testing.assert_array_equal(
        aumann.attribute(x, "gini", baseline=str(tmp_path / "b.npy")),
        aumann.attribute(x, "gini", baseline=np.full(3, 0.25)),
    )


@pytest.mark.parametrize(
    "call,needle",
    [
        (lambda x: aumann.attribute(x, "gini", steps=-1), "steps (quadrature points) = -1"),
        (lambda x: aumann.attribute(x, "gini", n_steps=-5), "= -5"),
        (lambda x: aumann.attribute(x, "gini", steps=2**64), "from 1 to 1048576"),
        (lambda x: aumann.attribute(x, "gini", steps=3.5), "3.5"),
        (lambda x: aumann.attribute(x, "gini", threads=-2), "threads = -2"),
        (lambda x: aumann.attribute(x, "gini", threads=10**6), "threads = 1000000"),
        (lambda x: aumann.compare(x, "gini", samples=-1), "samples = -1"),
        (lambda x: aumann.compare(x, "gini", seed=-1), "seed = -1: expected an integer from 0"),
        (lambda x: aumann.DeepSet(hidden=-8), "hidden = -8: expected an integer from 1 to 16384"),
        (lambda x: aumann.DeepSet(depth=0), "depth = 0"),
        (lambda x: aumann.DeepSet().fit(x[None].repeat(4, 0), target_indicator="variance",
                                        epochs=-1), "epochs = -1"),
        (lambda x: aumann.study("/nonexistent/out", agents=-10), "agents = -10"),
        (lambda x: aumann.study("/nonexistent/out", sizes=(100, -3)), "sizes = -3"),
        (lambda x: aumann.explain_scenario("/nonexistent", step=-1), "step = -1"),
    ],
)
def test_negative_counts_name_the_value_and_the_range(call, needle):
    x = np.random.default_rng(17).lognormal(size=(10, 3))
    with pytest.raises(aumann.InputError) as info:
        call(x)
    assert needle in str(info.value)
    assert "expected an integer from" in str(info.value)


def test_shares_name_the_steps_without_a_macro_change():
    x = np.random.default_rng(18).lognormal(size=(4, 50, 3))
    x[2] = 1.0  # every agent alike at step 2: no dispersion, V(x) = V(0) = 0
    a = aumann.explain(x, "variance")
    with pytest.raises(aumann.InputError) as info:
        a.shares()
    assert "at step 2:" in str(info.value) and "V(x) = V(b)" in str(info.value)
    ok = aumann.explain(x[[0, 1, 3]], "variance").shares()
    np.testing.assert_allclose(ok.sum(axis=1), 1.0, rtol=1e-5)
    # A change far below φ's scale would overflow the shares: named too.
    tiny = aumann.Attribution(
        np.array([[1e300, -1e300], [1.0, 1.0]]),
        {"v_x": [1e-300, 2.0], "v_b": [0.0, 0.0], "efficiency_gap": [0.0, 0.0]},
    )
    with pytest.raises(aumann.InputError, match="shares overflow at step 0"):
        tiny.shares()


@pytest.mark.parametrize("rule,steps,needle", [("midpoint", 0, "at least 1 quadrature point, got 0"),
                                               ("trapezoid", 1, "at least 2 quadrature points, got 1")])
def test_too_few_points_is_grammatical(rule, steps, needle):
    with pytest.raises(aumann.InputError) as info:
        aumann.attribute(np.ones((5, 3)), "variance", rule=rule, steps=steps)
    assert needle in str(info.value)


def test_the_summary_of_a_large_input_is_the_whole_inputs(monkeypatch):
    """Above 64 MiB the steps go to the engine in groups; the summary is still the whole
    run's: its T, its per-step values, its time."""
    n = (64 << 20) // (6 * 8) + 1000  # 6 steps of one float64 feature: just over 64 MiB
    x = np.random.default_rng(19).lognormal(size=(6, n, 1))
    assert x.nbytes > aumann._CHUNK_BYTES
    a = aumann.explain(x, "gini")
    s = a.summary
    assert s["T"] == 6 and s["n"] == n and len(s["v_x"]) == 6 and a.values.shape == (6, n)
    assert s["seconds_total"] > 0 and s["seconds_total"] >= s["seconds_attribution"] > 0
    assert s["baseline"] == "zero"
    monkeypatch.setattr(aumann, "_CHUNK_BYTES", 1 << 40)  # in one piece, for reference
    whole = aumann.explain(x, "gini")
    for key in ("T", "n", "d", "v_x", "v_b", "efficiency_gap", "baseline"):
        assert s[key] == whole.summary[key], key
    assert whole.summary["seconds_total"] > 0


WGPU_CHILD = """
import numpy as np, aumann
try:
    aumann.attribute(np.random.default_rng(0).lognormal(size=(100, 3)).astype(np.float32),
                     "variance", backend="wgpu")
    print("ran on wgpu")
except aumann.BackendError as e:
    print("no wgpu:", e)
"""


def test_the_gpu_backend_does_not_complain_about_xdg_runtime_dir():
    """Without XDG_RUNTIME_DIR the Vulkan drivers' window-system probe printed "XDG_RUNTIME_DIR
    is invalid or not set" once per driver; the package points it at a private folder."""
    import sys

    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", WGPU_CHILD], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "XDG_RUNTIME_DIR" not in done.stderr, done.stderr
    assert done.stdout.startswith(("ran on wgpu", "no wgpu:")), done.stdout
