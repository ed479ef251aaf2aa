"""The Dask route of :func:`medbook.mediate` on a LocalCluster (processes, 2 workers).

The in-memory route is the reference: same point estimates (1e-8), same Poisson
bootstrap (the replicate weights are keyed by seed and row), and bit-identical
results however the rows are partitioned. Small blocks (4,096 rows) make the
24,000-row study span several blocks, as a large one would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

import medbook
from medbook.backends import dask_frame
from medbook.backends.dask_passes import ClusterError
from medbook.errors import ConfigError, DataError, MedbookError

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

N = 24_000
ARGS = ("treatment", "mediator", "outcome")


def _study(n: int = N, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    plan = rng.choice(["basic", "pro", "team"], size=n)
    t = rng.integers(0, 2, size=n)
    m = rng.binomial(1, special.expit(-0.3 + 0.8 * t + 0.5 * x + 0.3 * (plan == "pro")))
    y = rng.binomial(1, special.expit(-0.2 + 0.5 * t + 0.7 * m + 0.4 * t * m + 0.3 * x))
    m_cont = 0.3 + 0.8 * t + 0.5 * x + rng.normal(size=n)
    y_cont = 0.1 + 0.4 * t + 0.6 * m_cont + 0.3 * x + rng.normal(size=n)
    return pd.DataFrame(
        {"treatment": t, "mediator": m, "outcome": y, "x": x, "plan": plan,
         "m_cont": m_cont, "y_cont": y_cont}
    )


@pytest.fixture(scope="module")
def client():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dask_frame, "BLOCK_ROWS", 4096)
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster, distributed.Client(cluster) as cl:
            yield cl


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    return _study()


def _parquet(frame: pd.DataFrame, folder, parts: int) -> str:
    folder.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[chunk].to_parquet(folder / f"part-{i:02d}.parquet", index=False)
    return str(folder)


def _table(res) -> np.ndarray:
    return res.to_frame().iloc[:, 1:].to_numpy(dtype=float)


OPTIONS = {"interaction": True, "n_boot": 40, "seed": 11}


def test_dask_matches_in_memory_and_ignores_partitioning(client, study, tmp_path):
    _check_matches_in_memory(study, tmp_path, OPTIONS)


@pytest.mark.slow
def test_dask_matches_in_memory_on_400000_rows(client, tmp_path):
    """The issue's acceptance size: a 400,000-row partitioned Parquet study."""
    _check_matches_in_memory(_study(n=400_000, seed=8), tmp_path, {**OPTIONS, "n_boot": 50})


def _check_matches_in_memory(study: pd.DataFrame, tmp_path, options: dict) -> None:
    covariates = ["x", "plan"]
    memory = medbook.mediate(study, *ARGS, covariates, bootstrap_weights="poisson", **options)
    eight = dd.read_parquet(_parquet(study, tmp_path / "eight", 8))
    three = dd.read_parquet(_parquet(study, tmp_path / "three", 3))
    assert (eight.npartitions, three.npartitions) == (8, 3)
    res8 = medbook.mediate(eight, *ARGS, covariates, **options)
    res3 = medbook.mediate(three, *ARGS, covariates, **options)

    assert res8.details["backend"] == "dask"
    assert res8.details["bootstrap_weights"] == "poisson"
    np.testing.assert_allclose(_table(res8), _table(memory), rtol=0, atol=1e-8)
    np.testing.assert_allclose(res8.replicates, memory.replicates, rtol=0, atol=1e-8)
    np.testing.assert_allclose(
        res8.outcome_fit.cov, memory.outcome_fit.cov, rtol=1e-7, atol=1e-12
    )
    assert np.array_equal(_table(res8), _table(res3))
    assert np.array_equal(res8.replicates.to_numpy(), res3.replicates.to_numpy())
    assert res8.to_dict()["arm_sizes"] == memory.to_dict()["arm_sizes"]
    assert res8.outcome_fit.names == memory.outcome_fit.names


@pytest.mark.parametrize(
    ("mediator", "outcome"), [("m_cont", "y_cont"), ("m_cont", "outcome"), ("mediator", "y_cont")]
)
def test_every_model_combination_matches_in_memory(client, study, mediator, outcome):
    frame = study.iloc[:6000]
    kwargs = {"covariates": ["x", "plan"], "n_boot": 20, "seed": 2, "interaction": True}
    memory = medbook.mediate(frame, "treatment", mediator, outcome, bootstrap_weights="poisson",
                             **kwargs)
    res = medbook.mediate(dd.from_pandas(frame, npartitions=3), "treatment", mediator, outcome,
                          **kwargs)
    np.testing.assert_allclose(_table(res), _table(memory), rtol=0, atol=1e-8)
    assert [k for k in res.details if k.startswith("quadrature")] == [
        k for k in memory.details if k.startswith("quadrature")
    ]


def test_missing_values_name_global_rows_and_can_be_dropped(client, study):
    frame = study.iloc[:6000].copy()
    frame.loc[[4_500, 5_000], "x"] = np.nan
    ddf = dd.from_pandas(frame, npartitions=4)
    with pytest.raises(DataError, match=r"column 'x' has 2 missing .*rows 4501, 5001"):
        medbook.mediate(ddf, *ARGS, ["x"], n_boot=20, seed=1)
    memory = medbook.mediate(frame, *ARGS, ["x"], n_boot=20, seed=1, drop_missing=True,
                             bootstrap_weights="poisson")
    res = medbook.mediate(ddf, *ARGS, ["x"], n_boot=20, seed=1, drop_missing=True)
    np.testing.assert_allclose(_table(res), _table(memory), rtol=0, atol=1e-8)
    assert res.to_dict()["n_dropped"] == 2


def _from_parts(parts: list[pd.DataFrame]):
    return dd.from_map(lambda i: parts[i], range(len(parts)), meta=parts[0].iloc[:0])


def test_missing_column_in_one_partition_is_a_one_line_error(client, study, tmp_path):
    frame = study.iloc[:3000]
    parts = [frame.iloc[:1000], frame.iloc[1000:2000].drop(columns="x"), frame.iloc[2000:]]
    with pytest.raises(DataError, match=r"^column 'x' is missing from partition 1$"):
        medbook.mediate(_from_parts(parts), *ARGS, ["x"], n_boot=20)
    folder = tmp_path / "ragged"
    folder.mkdir()
    for i, part in enumerate(parts):
        part.to_parquet(folder / f"p{i}.parquet", index=False)
    with pytest.raises(DataError, match=r"partition .* cannot be read .*'x'"):
        medbook.mediate(dd.read_parquet(str(folder)), *ARGS, ["x"], n_boot=20)


def test_partitions_with_different_dtypes_are_a_one_line_error(client, study):
    frame = study.iloc[:3000]
    odd = frame.iloc[2000:].assign(x=frame["x"].iloc[2000:].astype(str))
    ddf = _from_parts([frame.iloc[:2000], odd])
    with pytest.raises(DataError, match=r"column 'x' has dtype \S+ in partition 1 but float64"):
        medbook.mediate(ddf, *ARGS, ["x"], n_boot=20)


def test_dask_validation_matches_in_memory_errors(client, study):
    frame = study.iloc[:3000].assign(treatment=lambda d: d["treatment"].where(d.index < 2000, 2))
    with pytest.raises(DataError, match="must have exactly two values"):
        medbook.mediate(dd.from_pandas(frame, npartitions=3), *ARGS, n_boot=20)
    with pytest.raises(DataError, match="not found"):
        medbook.mediate(dd.from_pandas(study.iloc[:100], npartitions=2), *ARGS, ["nope"])
    with pytest.raises(ConfigError, match="method='bootstrap'"):
        medbook.mediate(dd.from_pandas(study.iloc[:100], npartitions=2), *ARGS, method="delta")


def test_a_cluster_that_dies_mid_run_is_a_one_line_error(study, close_on_second_pass):
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster):
        close_on_second_pass(cluster)
        with pytest.raises(ClusterError, match=r"^the Dask cluster failed") as info:
            medbook.mediate(dd.from_pandas(study.iloc[:3000], npartitions=2), *ARGS, ["x"],
                            n_boot=10)
    assert isinstance(info.value, MedbookError)
    assert "\n" not in str(info.value)
