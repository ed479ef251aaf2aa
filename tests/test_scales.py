"""Effect scales: difference, ratio and odds-ratio contrasts of the potential-outcome means."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import medbook
from medbook import simulate
from medbook.errors import ConfigError
from medbook.scales import (
    check_scale,
    contrast,
    decompose,
    from_working,
    null_value,
    proportion_mediated,
    scale_label,
    working,
)

ARGS = ("treatment", "mediator", "outcome")


def _random_po(seed: int, b: int = 50) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    po = {k: rng.uniform(0.05, 0.95, size=b) for k in ("y1m1", "y0m0", "y1m0", "y0m1")}
    po["y1|m=0"], po["y0|m=0"] = rng.uniform(0.05, 0.95, size=(2, b))
    return po


@pytest.mark.parametrize("scale", ["ratio", "odds_ratio"])
def test_ratio_decompositions_multiply(scale):
    po = _random_po(1)
    eff = decompose(po, scale)
    np.testing.assert_allclose(eff["nde0"] * eff["nie1"], eff["te"], rtol=1e-12)
    np.testing.assert_allclose(eff["nde1"] * eff["nie0"], eff["te"], rtol=1e-12)
    assert eff["te"].shape == (50,)


def test_difference_decompositions_add_and_cde_uses_controlled_means():
    po = _random_po(2)
    eff = decompose(po, "difference")
    np.testing.assert_allclose(eff["nde0"] + eff["nie1"], eff["te"], rtol=1e-12)
    np.testing.assert_allclose(eff["cde(m=0)"], po["y1|m=0"] - po["y0|m=0"])
    np.testing.assert_allclose(eff["pm"], eff["nie1"] / eff["te"])


def test_odds_ratio_uses_the_odds_of_the_marginal_means():
    po = _random_po(3)
    eff = decompose(po, "odds_ratio")
    odds = {k: v / (1 - v) for k, v in po.items()}
    np.testing.assert_allclose(eff["te"], odds["y1m1"] / odds["y0m0"])
    np.testing.assert_allclose(eff["nie1"], odds["y1m1"] / odds["y1m0"])
    np.testing.assert_allclose(eff["cde(m=0)"], odds["y1|m=0"] / odds["y0|m=0"])


def test_pm_on_the_ratio_scale_follows_vanderweele():
    """RR_NDE (RR_NIE - 1) / (RR_NDE RR_NIE - 1): equal to the difference-scale share for
    risk ratios, different (the odds-ratio version) on the odds-ratio scale."""
    po = _random_po(4)
    rr = decompose(po, "ratio")
    vdw = rr["nde0"] * (rr["nie1"] - 1) / (rr["nde0"] * rr["nie1"] - 1)
    np.testing.assert_allclose(rr["pm"], vdw)
    np.testing.assert_allclose(rr["pm"], decompose(po, "difference")["pm"], rtol=1e-10)
    orr = decompose(po, "odds_ratio")
    np.testing.assert_allclose(
        orr["pm"], orr["nde0"] * (orr["nie1"] - 1) / (orr["nde0"] * orr["nie1"] - 1)
    )
    assert not np.allclose(orr["pm"], rr["pm"])
    assert proportion_mediated(np.array(2.0), np.array(1.5), np.array(3.0), "ratio") == 0.5


def test_undefined_ratios_are_nan_and_working_scale_is_log():
    assert np.isnan(contrast(np.array(-0.1), np.array(0.2), "ratio"))
    assert np.isnan(contrast(np.array(1.0), np.array(0.2), "odds_ratio"))
    values = np.array([0.5, 2.0, -1.0])
    np.testing.assert_allclose(working(values, "te", "ratio")[:2], np.log(values[:2]))
    assert np.isnan(working(values, "te", "ratio")[2])
    np.testing.assert_array_equal(working(values, "pm", "ratio"), values)
    np.testing.assert_allclose(from_working(working(values[:2], "nie1", "odds_ratio"),
                                            "nie1", "odds_ratio"), values[:2])
    assert null_value("ratio") == 1.0 and null_value("difference") == 0.0


def test_scale_names_and_errors():
    assert check_scale("ratio", "continuous") == "ratio"
    assert scale_label("ratio", "binary") == "risk ratio"
    assert scale_label("ratio", "continuous") == "ratio of means"
    with pytest.raises(ConfigError, match="scale must be one of"):
        check_scale("log", "binary")
    with pytest.raises(ConfigError, match="'odds_ratio' needs a 0/1 outcome, but 'y' is not"):
        check_scale("odds_ratio", "continuous", "y")


# --- through mediate() -----------------------------------------------------------------------

def test_odds_ratio_with_a_continuous_outcome_is_a_one_line_error(linear_df):
    with pytest.raises(ConfigError) as err:
        medbook.mediate(linear_df, *ARGS, scale="odds_ratio", method="delta")
    assert "\n" not in str(err.value) and "'outcome'" in str(err.value)


def test_unknown_scale_is_a_config_error(binary_df):
    with pytest.raises(ConfigError, match="scale must be one of difference, ratio, odds_ratio"):
        medbook.mediate(binary_df, *ARGS, scale="relative", method="delta")


@pytest.mark.parametrize("scale", ["ratio", "odds_ratio"])
def test_mediate_ratio_scale_is_a_contrast_of_its_potential_outcomes(binary_df, scale):
    res = medbook.mediate(binary_df, *ARGS, ["x"], interaction=True, scale=scale, method="delta")
    po = res.potential_outcomes
    def c(a, b):
        return float(contrast(np.array(po[a]), np.array(po[b]), scale))
    assert res["te"] == pytest.approx(c("y1m1", "y0m0"), rel=1e-12)
    assert res["nde0"] * res["nie1"] == pytest.approx(res["te"], rel=1e-12)
    assert res.spec.scale == scale
    assert res.scale == {"ratio": "risk ratio", "odds_ratio": "odds ratio"}[scale]
    assert list(res.to_frame().columns) == [
        "estimand", "estimate", "std_error", "ci_lower", "ci_upper", "p_value"
    ]
    assert res.to_dict()["spec"]["scale"] == scale
    # delta intervals are symmetric on the log scale: lower * upper == estimate^2
    row = res.row("nie1")
    assert row["ci_lower"] * row["ci_upper"] == pytest.approx(row["estimate"] ** 2, rel=1e-9)
    z = np.log(row["estimate"]) / row["std_error"]
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)))
    # pm stays a proportion on its natural scale
    pm = res.row("pm")
    assert pm["ci_lower"] < pm["estimate"] < pm["ci_upper"] < 1


def test_bootstrap_ratio_intervals_are_percentiles_of_the_ratio():
    small = simulate.simulate("binary", seed=5, n=1500)
    res = medbook.mediate(small, *ARGS, ["x"], interaction=True, scale="ratio",
                          n_boot=100, seed=3)
    reps = res.replicates["te"].to_numpy()
    lo, hi = np.exp(np.quantile(np.log(reps), [0.025, 0.975]))
    row = res.row("te")
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((lo, hi), rel=1e-12)
    # up to interpolation between order statistics, the percentiles of the ratio itself
    below = np.quantile(reps, [0.025, 0.975], method="lower")
    above = np.quantile(reps, [0.025, 0.975], method="higher")
    assert np.all(below <= (lo, hi)) and np.all((lo, hi) <= above)
    assert row["std_error"] == pytest.approx(np.std(np.log(reps), ddof=1))
    bca = medbook.mediate(small, *ARGS, ["x"], interaction=True, scale="ratio",
                          n_boot=100, seed=3, ci="bca")
    assert bca.row("te")["ci_lower"] < bca["te"] < bca.row("te")["ci_upper"]


def test_ratio_of_means_for_a_continuous_outcome(linear_df):
    res = medbook.mediate(linear_df, *ARGS, ["x"], scale="ratio", method="delta", cde_at=[0.5])
    diff = medbook.mediate(linear_df, *ARGS, ["x"], method="delta", cde_at=[0.5])
    po = diff.potential_outcomes
    assert res["te"] == pytest.approx(po["y1m1"] / po["y0m0"], rel=1e-12)
    assert res.scale == "ratio of means"
    assert res["pm"] == pytest.approx(diff["pm"], rel=1e-10)


def test_ratio_scale_with_negative_means_is_a_clear_error(linear_df):
    frame = linear_df.assign(outcome=linear_df["outcome"] - 20.0)
    with pytest.raises(medbook.FitError, match="ratio scale needs positive potential-outcome"):
        medbook.mediate(frame, *ARGS, scale="ratio", method="delta")


# --- truth on the odds-ratio scale at n = 20,000 ------------------------------------------------

def test_odds_ratio_truth_logistic_outcome_binary_mediator():
    """The notebook's funnel (logistic outcome, binary mediator, interaction): estimates on
    the odds-ratio scale within Monte Carlo error of the truth from the structural model."""
    covariates = ["prior_usage", "account_complexity", "enterprise", "x"]
    frame = simulate.simulate("binary", seed=31, n=20_000)
    tr = simulate.truth("binary", scale="odds_ratio", n=400_000)
    res = medbook.mediate(frame, *ARGS, covariates, interaction=True, scale="odds_ratio",
                          method="delta", cde_at=[0, 1])
    table = res.to_frame().set_index("estimand")
    z = {k: np.log(table.loc[k, "estimate"] / tr[k]) / table.loc[k, "std_error"]
         for k in ("te", "nde0", "nde1", "nie0", "nie1")}
    z.update({f"cde(m={m})": np.log(table.loc[f"cde(m={m})", "estimate"] / tr["cde"][m])
              / table.loc[f"cde(m={m})", "std_error"] for m in (0, 1)})
    assert max(abs(v) for v in z.values()) < 4.0, z
    assert table.loc["nie1", "std_error"] < 0.05
