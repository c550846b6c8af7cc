"""A Mesa model attributed in one call: Mesa's Boltzmann wealth model (its tutorial's agents,
model and Gini reporter), simulated, read by `aumann.from_mesa` and attributed."""

import numpy as np
import pytest
from conftest import optional

import aumann

mesa = optional("mesa")


def compute_gini(model):
    """Mesa's example reporter: the Gini coefficient of the agents' wealth."""
    agent_wealths = [agent.wealth for agent in model.agents]
    x = sorted(agent_wealths)
    n = model.num_agents
    B = sum(xi * (n - i) for i, xi in enumerate(x)) / (n * sum(x))
    return 1 + (1 / n) - 2 * B


class MoneyAgent(mesa.Agent):
    """An agent with fixed initial wealth."""

    def __init__(self, model):
        super().__init__(model)
        self.wealth = 1

    def exchange(self):
        if self.wealth > 0:
            other = self.random.choice(self.model.agents)
            if other is not None:
                other.wealth += 1
                self.wealth -= 1


class MoneyModel(mesa.Model):
    """A model with some number of agents."""

    def __init__(self, n, seed=None):
        super().__init__(seed=seed)
        self.num_agents = n
        MoneyAgent.create_agents(model=self, n=n)
        self.datacollector = mesa.DataCollector(
            model_reporters={"Gini": compute_gini}, agent_reporters={"Wealth": "wealth"}
        )

    def step(self):
        self.datacollector.collect(self)
        self.agents.shuffle_do("exchange")


def simulate(n=60, steps=40, seed=42):
    model = MoneyModel(n, seed=seed)
    for _ in range(steps):
        model.step()
    return model


def test_a_boltzmann_model_is_attributed_in_one_call():
    model = simulate()
    X, steps, agents = aumann.from_mesa(model, features=["Wealth"])
    assert X.shape == (40, 60, 1) and X.dtype == np.float32
    assert list(steps) == list(range(1, 41)) and len(set(agents.tolist())) == 60
    # The wealths, agent by agent, as Mesa recorded them (integers, cast).
    frame = model.datacollector.get_agent_vars_dataframe()
    assert frame["Wealth"].dtype.kind == "i"
    i = 17
    np.testing.assert_array_equal(X[:, i, 0], frame.xs(agents[i], level="AgentID")["Wealth"])
    # aumann's gini is the mean difference; Mesa's Gini divides it by twice the mean wealth
    # with n² for n(n − 1): G = MD (n − 1) / (2 Σ wealth), step by step.
    n = len(agents)
    a = aumann.explain(X, "gini", precision="f64")
    mesa_gini = model.datacollector.get_model_vars_dataframe()["Gini"].to_numpy()
    ours = a.output * (n - 1) / (2 * X.sum(axis=(1, 2)))
    np.testing.assert_allclose(ours, mesa_gini, rtol=1e-9, atol=1e-15)
    # Efficiency: the agents' parts add up to the inequality (from the zero baseline, V = 0).
    np.testing.assert_allclose(a.values.sum(axis=1), a.output, rtol=1e-9, atol=1e-12)
    assert a.values.shape == (40, 60) and np.all(np.isfinite(a.values))
    # At the last step, agent by agent: φ_i = w(ρ_i) wealth_i with ρ_i the midrank of its
    # wealth and w(ρ) = 2 (2ρ − n − 1) / (n (n − 1)): the rich raise the inequality, one
    # below the middle rank would lower it, and one with no wealth (the baseline) has no part.
    last, phi = X[-1, :, 0].astype(np.float64), a.values[-1]
    midrank = ((last[:, None] > last).sum(1) + (last[:, None] >= last).sum(1) + 1) / 2
    np.testing.assert_allclose(phi, 2 * (2 * midrank - n - 1) / (n * (n - 1)) * last, rtol=1e-9)
    assert phi[np.argmax(last)] > 0 and (last == 0).any() and np.all(phi[last == 0] == 0)
    # The DataCollector itself, and the integer array directly, give the same.
    X2, _, _ = aumann.from_mesa(model.datacollector, features="Wealth", dtype=np.float64)
    np.testing.assert_array_equal(X2, X)
    as_int = np.rint(X2).astype(np.int64)
    np.testing.assert_array_equal(aumann.attribute(as_int, "gini"), a.values)


def test_from_long_reads_mesas_frame_as_it_comes():
    model = simulate(n=20, steps=10, seed=3)
    frame = model.datacollector.get_agent_vars_dataframe()  # indexed by (Step, AgentID)
    indexed = aumann.from_long(frame, step="Step", agent="AgentID", features=["Wealth"])
    flat = aumann.from_long(
        frame.reset_index(), step="Step", agent="AgentID", features=["Wealth"]
    )
    for ours, theirs in zip(indexed, flat):
        np.testing.assert_array_equal(ours, theirs)
    X, _, _ = aumann.from_mesa(model)  # every numeric reporter by default
    np.testing.assert_array_equal(X, indexed[0])


def test_mesa_errors_list_what_is_there():
    model = simulate(n=10, steps=3, seed=1)
    frame = model.datacollector.get_agent_vars_dataframe()
    with pytest.raises(aumann.InputError) as info:
        aumann.from_mesa(model, features=["wealth"])  # the reporter is "Wealth"
    assert "'wealth'" in str(info.value) and "'Wealth'" in str(info.value)
    with pytest.raises(aumann.InputError) as info:
        aumann.from_long(frame, step="step", agent="AgentID", features=["Wealth"])
    message = str(info.value)
    assert "step column 'step'" in message and "'Step'" in message and "'AgentID'" in message
    with pytest.raises(aumann.InputError, match="datacollector attribute") as info:
        aumann.from_mesa(object())
    assert "is None" not in str(info.value)
    model.datacollector = None
    with pytest.raises(aumann.InputError, match="whose datacollector is None"):
        aumann.from_mesa(model)
    bare = mesa.Model(seed=1)
    bare.datacollector = mesa.DataCollector(model_reporters={"agents": lambda m: len(m.agents)})
    with pytest.raises(aumann.InputError, match="agent_reporters"):
        aumann.from_mesa(bare)
    fresh = MoneyModel(5, seed=1)
    with pytest.raises(aumann.InputError, match="collected no agent data"):
        aumann.from_mesa(fresh)


def test_the_gini_coefficient_is_mesas_and_exact_from_any_baseline():
    model = simulate(n=80, steps=30, seed=5)
    X, _, _ = aumann.from_mesa(model, features=["Wealth"], dtype=np.float64)
    mesa_gini = model.datacollector.get_model_vars_dataframe()["Gini"].to_numpy()
    np.testing.assert_allclose(aumann.evaluate(X, "gini_coefficient"), mesa_gini, atol=1e-12)
    for baseline in ("mean", "first", "previous"):
        a = aumann.explain(X, "gini_coefficient", baseline=baseline, rule="midpoint", steps=8)
        change = a.output - a.base_values
        moved = np.abs(change) > 1e-12
        gap = np.abs(a.values.sum(axis=1) - change)
        assert np.all(gap[moved] <= 1e-6 * np.abs(change[moved])), (baseline, gap.max())
        if baseline == "mean":  # everyone equal has no inequality: the parts add up to G
            np.testing.assert_allclose(a.values.sum(axis=1), mesa_gini, atol=1e-12)
    # A zero baseline has no Gini coefficient: refused with the remedy.
    with pytest.raises(aumann.AumannError, match="positive mean"):
        aumann.explain(X, "gini_coefficient")


def test_a_step_that_misses_its_change_is_warned_about():
    model = simulate(n=50, steps=12, seed=2)
    X, _, _ = aumann.from_mesa(model, features=["Wealth"], dtype=np.float64)
    grown = X * (1 + 0.5 * np.arange(len(X)))[:, None, None] + 1  # the mean moves
    with pytest.warns(RuntimeWarning, match=r"step \d+: .* quadrature points") as caught:
        aumann.explain(grown, "mult", baseline="previous", rule="midpoint", steps=1)
    steps = {str(w.message).split(":")[0] for w in caught}
    assert len(steps) == len(caught)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        aumann.explain(X, "gini_coefficient", baseline="previous", steps=1)
