"""aumann on Dask: a population chunked over agents and attributed on a LocalCluster of two
worker processes equals the single-process attribution — exact forms to 1e-12 (f64), the path
integral to 1e-6 (f32) — for even and uneven chunkings, a chunk of one agent and chunks over
steps."""

from pathlib import Path

import numpy as np
import pytest
from conftest import optional

import aumann

da = optional("dask.array")
distributed = optional("distributed")
import aumann.dask as ad  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def population(T=3, n=61, d=2, seed=0):
    rng = np.random.default_rng(seed)
    x = np.exp(rng.uniform(-1, 1, (T, n, d)))
    x[1, 7] = x[1, 9]  # a tie
    x[2, 3:6] = x[2, 10]  # three more
    return x


CHUNKINGS = [
    (3, (61,)),  # one chunk
    (3, (20, 21, 20)),
    (2, (30, 1, 17, 13)),  # uneven, one agent, and chunks over steps
]


def chunked(x, chunking):
    t, agents = chunking
    return da.from_array(x, chunks=(t, agents, x.shape[2]))


def relative(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("indicator", ["linear", "mult", "variance", "gini"])
@pytest.mark.parametrize("baseline", ["zero", "mean", "first", "previous"])
def test_exact_forms_equal_the_single_process(client, indicator, baseline):
    if indicator == "gini" and baseline in ("first", "previous"):
        pytest.skip("the Gini on chunks needs a shared baseline (tested below)")
    x = population()
    want = aumann.explain(x, indicator, baseline=baseline, method="exact", precision="f64")
    for chunking in CHUNKINGS:
        got = ad.attribute(chunked(x, chunking), indicator, baseline=baseline)
        assert got.values.chunks[1] == chunking[1]
        assert relative(got.values.compute(), want.values) <= 1e-12, chunking
        np.testing.assert_allclose(got.summary["v_x"], want.output, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(got.summary["v_b"], want.base_values, rtol=1e-12, atol=1e-15)
        assert max(abs(g) for g in got.summary["efficiency_gap"]) <= 1e-12


POOLED = [
    "linear",
    "mult",
    "variance",
    "gini",
    "theil",
    "atkinson(epsilon=2)",
    aumann.formula({"poor": "sigmoid((1 - c) / 0.2)"}, "poor"),
    str(Path(__file__).resolve().parents[2] / "models" / "deepset-variance"),
]


@pytest.mark.parametrize("indicator", POOLED, ids=str)
@pytest.mark.parametrize("baseline", ["mean", "previous"])
def test_the_path_integral_equals_the_single_process(client, indicator, baseline):
    x = population(d=3).astype(np.float32)
    if isinstance(indicator, str) and indicator == "gini" and baseline == "previous":
        baseline = "zero"  # the Gini's path on chunks starts from a shared baseline
    if isinstance(indicator, str) and indicator == "linear" and baseline == "mean":
        baseline = "zero"  # the mean has no linear change to attribute
    want = aumann.explain(x, indicator, baseline=baseline, rule="gauss", steps=16, precision="f32")
    for chunking in CHUNKINGS:
        got = ad.attribute(chunked(x, chunking), indicator, baseline=baseline, method="path",
                           rule="gauss", steps=16)
        assert relative(got.values.compute(), want.values) <= 1e-6, chunking
        np.testing.assert_allclose(got.summary["v_x"], want.output, rtol=1e-6)


def test_the_gini_ranks_ties_and_chunks_exactly(client):
    # Many equal composites (as inactive agents have), spread over every chunk.
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, (2, 500, 1)).astype(np.float64)
    want = aumann.explain(x, "gini", baseline="zero", method="exact", precision="f64")
    for agents in [(500,), (7, 93, 1, 199, 200), (50,) * 10]:
        got = ad.attribute(da.from_array(x, chunks=(1, agents, 1)), "gini")
        assert relative(got.values.compute(), want.values) <= 1e-12, agents


def test_refusals_name_the_problem(client):
    x = chunked(population(), CHUNKINGS[1])
    with pytest.raises(aumann.InputError, match="a baseline every agent shares"):
        ad.attribute(x, "gini", baseline="previous")
    with pytest.raises(aumann.InputError, match="dask.array"):
        ad.attribute(population(), "variance")
    with pytest.raises(aumann.AumannError, match="pooled"):
        ad.attribute(x, "top_share", baseline="mean")
    with pytest.raises(aumann.InputError, match="no exact form"):
        ad.attribute(x, "theil", method="exact")
    bad = population()
    bad[2, 30, 1] = np.nan
    with pytest.raises(aumann.InputError, match=r"X\[0:3, 20:41\].*step 2, agent 10"):
        ad.attribute(chunked(bad, CHUNKINGS[1]), "variance")
    huge = np.ones((2, 12, 2))
    huge[1, :3] = 1e308  # finite, but the composites and V overflow
    for indicator in ("linear", "variance", "gini"):
        with pytest.raises(aumann.InputError, match="step 1 is not finite"):
            ad.attribute(da.from_array(huge, chunks=(1, (3, 9), 2)), indicator)


def test_edges_of_the_input(client):
    x = population()
    want = aumann.explain(x, "variance", baseline=0.5, method="exact", precision="f64")
    X = da.from_array(x, chunks=(3, (20, 0, 41), 2))  # an empty block, as filtering leaves
    assert 0 in X.chunks[1]
    got = ad.attribute(X, "variance", baseline=np.array(0.5))
    assert relative(got.values.compute(), want.values) <= 1e-12
    with pytest.raises(aumann.InputError, match="agents"):
        ad.from_npy("unused.npy", 0)


def test_the_gini_ranks_many_steps_in_one_chunk(client):
    x = np.random.default_rng(4).integers(0, 5, (40, 60, 1)).astype(np.float64)
    want = aumann.explain(x, "gini", method="exact", precision="f64")
    got = ad.attribute(da.from_array(x, chunks=(16, (10, 25, 1, 24), 1)), "gini")
    assert relative(got.values.compute(), want.values) <= 1e-12


def test_a_panel_stored_one_file_a_chunk(client, tmp_path):
    x = population()
    paths = []
    for j, (a, b) in enumerate([(0, 20), (20, 21), (21, 61)]):
        paths.append(tmp_path / f"part-{j}.npy")
        np.save(paths[-1], x[:, a:b])
    X = ad.from_npy_chunks(paths)
    assert X.chunks[1] == (20, 1, 40)
    want = aumann.explain(x, "variance", baseline="mean", method="exact", precision="f64")
    got = ad.attribute(X, "variance", baseline="mean")
    assert relative(got.values.compute(), want.values) <= 1e-12
    np.save(tmp_path / "flat.npy", x[0])
    with pytest.raises(aumann.InputError, match="expected \\[T, n, d\\]"):
        ad.from_npy_chunks([tmp_path / "flat.npy"])


def test_a_panel_stored_as_zarr(client, tmp_path):
    zarr = optional("zarr")
    x = population()
    store = zarr.open_array(str(tmp_path / "panel.zarr"), mode="w", shape=x.shape,
                            chunks=(3, 25, 2), dtype="f8")
    store[:] = x
    X = ad.from_zarr(str(tmp_path / "panel.zarr"))
    assert X.chunks[1] == (25, 25, 11)
    want = aumann.explain(x, "gini", method="exact", precision="f64")
    assert relative(ad.attribute(X, "gini").values.compute(), want.values) <= 1e-12


def test_the_full_panel_attributions_of_the_study(client, tmp_path):
    """A panel folder (its manifest and topic arrays, as ``aumann panel synth`` writes them),
    attributed topic by topic on the cluster, equals the single process's closed forms summed
    over days; a day without activity has no ``mult`` attribution."""
    import json

    rng = np.random.default_rng(3)
    T, n = 4, 90
    (tmp_path / "topics").mkdir()
    topics = {"alpha": np.log1p(rng.poisson(0.7, (T, n, 3))).astype(np.float32)}
    topics["quiet"] = topics["alpha"].copy()
    topics["quiet"][2, :, 1] = 0  # nobody reposted on day 2
    for name, x in topics.items():
        np.save(tmp_path / "topics" / f"{name}.npy", x)
    manifest = {"format": "aumann-panel", "version": 1, "agents": n, "days": T,
                "topics": list(topics), "day_labels": [str(t) for t in range(T)],
                "features": ["posts", "reposts", "replies"], "source": "test"}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    totals = ad.panel_attributions(tmp_path, agents=25, out=tmp_path / "out")
    for (topic, indicator), got in totals.items():
        x = topics[topic].astype(np.float64)
        days = [t for t in range(T) if indicator != "mult" or (x[t].mean(0) > 0).all()]
        want = aumann.exact(x[days], indicator, baseline="zero").sum(axis=0)
        assert relative(got, want) <= 1e-12, (topic, indicator)
        saved = np.load(tmp_path / "out" / "per_agent" / f"{topic}_{indicator}.npy")
        assert np.array_equal(saved, got)
    assert len(totals) == 2 * 4


def test_a_chunk_with_a_negative_mean_is_no_population(client):
    """The coefficient of variation needs the population's mean composite positive, not each
    chunk's."""
    x = np.random.default_rng(5).normal(1, 0.3, (2, 10, 2))
    x[:, :3] = -1.0  # a chunk of negative composites; the population mean stays positive
    want = aumann.explain(x, "coefficient_of_variation", baseline="mean", rule="gauss", steps=16,
                          precision="f64")
    got = ad.attribute(da.from_array(x, chunks=(2, (3, 7), 2)), "coefficient_of_variation",
                       baseline="mean", rule="gauss", steps=16)
    assert relative(got.values.compute(), want.values) <= 1e-12
