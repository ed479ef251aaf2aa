"""The result contract (medbook.contract.Result), checked over every result type."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

import medbook
from medbook import diagnostics, sensitivity
from medbook.contract import Result
from medbook.simulate import simulate_binary, simulate_linear


@pytest.fixture(scope="module")
def results():
    linear = medbook.mediate(simulate_linear(n=600), "treatment", "mediator", "outcome", ["x"],
                             method="delta")
    boot = medbook.mediate(simulate_binary(n=600), "treatment", "mediator", "outcome", ["x"],
                           n_boot=60, ci="bca", seed=2)
    return {
        "mediation (delta)": linear,
        "mediation (bootstrap)": boot,
        "rho": sensitivity.rho(linear, grid=[-0.3, 0.3]),
        "bias grid": sensitivity.bias_grid(linear),
        "robustness": sensitivity.robustness_value(boot),
        "diagnostics": diagnostics.diagnose(boot),
    }


KINDS = ["mediation (delta)", "mediation (bootstrap)", "rho", "bias grid", "robustness",
         "diagnostics"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_result_keeps_the_contract(results, kind):
    res = results[kind]
    assert isinstance(res, Result) and dataclasses.is_dataclass(res)
    frame = res.to_frame()
    assert isinstance(frame, pd.DataFrame) and not frame.empty
    columns = list(frame.columns)
    frame.columns = [f"renamed{i}" for i in range(frame.shape[1])]  # a copy: result untouched
    assert list(res.to_frame().columns) == columns
    payload = res.to_dict()
    json.dumps(payload, allow_nan=False)
    public = {res._json_names.get(f.name, f.name) for f in dataclasses.fields(res)
              if f.name not in res._private}
    assert public <= set(payload)
    head = repr(res).splitlines()[0]
    assert head.startswith(f"{type(res).__name__}(") and head.endswith(")")


def test_conf_int_recomputes_from_replicates(results):
    for kind in ("mediation (delta)", "mediation (bootstrap)"):
        res = results[kind]
        same = res.conf_int().set_index("estimand")
        stored = res.to_frame().set_index("estimand")
        pd.testing.assert_frame_equal(same, stored[["ci_lower", "ci_upper"]], rtol=1e-12)
        narrow, wide = res.conf_int(0.8).set_index("estimand"), res.conf_int(0.99)
        wide = wide.set_index("estimand")
        assert (narrow["ci_lower"] >= wide["ci_lower"]).all()
        assert (narrow["ci_upper"] <= wide["ci_upper"]).all()
    ratio = medbook.mediate(simulate_binary(n=600), "treatment", "mediator", "outcome", ["x"],
                            scale="ratio", n_boot=60, seed=2)
    same = ratio.conf_int().set_index("estimand")
    stored = ratio.to_frame().set_index("estimand")[["ci_lower", "ci_upper"]]
    pd.testing.assert_frame_equal(same, stored, rtol=1e-9)
    with pytest.raises(medbook.ConfigError, match="conf_level"):
        results["mediation (delta)"].conf_int(1.5)
