"""``medbook memo --scheduler`` / ``MEDBOOK_SCHEDULER`` on a LocalCluster (processes, 2 workers).

The in-memory ``mediate(..., bootstrap_weights="poisson")`` of the same rows is the
reference for the headline numbers; the row sample is checked against its
definition (the smallest keyed hashes of the row positions) for two partitionings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import medbook
from medbook import memo_cluster
from medbook.cli import main
from medbook.rowstream import row_uniforms
from medbook.sources import read_source

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

N = 6000
SEED = 3
COVARIATES = ["x", "plan"]
SAMPLE_SENTENCE = "use a random sample of"
UNREACHABLE = "tcp://127.0.0.1:1"


@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def _frame(n: int = N) -> pd.DataFrame:
    frame = medbook.simulate.simulate_linear(seed=4, n=n)[["treatment", "mediator", "outcome", "x"]]
    frame["plan"] = np.random.default_rng(4).choice(["basic", "pro", "team"], size=n)
    return frame


def _parts(frame: pd.DataFrame, folder: Path, parts: int) -> Path:
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[rows].to_parquet(folder / f"part-{i:02d}.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return _parts(_frame(), tmp_path_factory.mktemp("parquet") / "events", 3)


def _study(folder: Path, source: Path, **options: object) -> Path:
    config = {
        "data": str(source),
        "treatment": "treatment",
        "mediator": "mediator",
        "outcome": "outcome",
        "covariates": COVARIATES,
        "n_boot": 50,
        "seed": SEED,
        **options,
    }
    path = folder / "study.yml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def _memo(study: Path, out: Path, *extra: str) -> int:
    return main(["memo", str(study), "--out", str(out), "--to", "json,md", "--quiet", *extra])


def _effects(table: pd.DataFrame) -> np.ndarray:
    columns = ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
    return table.set_index("estimand")[columns].to_numpy(dtype=float)


def _in_memory(data: Path) -> np.ndarray:
    res = medbook.mediate(
        read_source(data),
        "treatment",
        "mediator",
        "outcome",
        COVARIATES,
        n_boot=50,
        seed=SEED,
        bootstrap_weights="poisson",
    )
    return _effects(res.to_frame())


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("medbook: error: "), err
    return lines[0]


def test_scheduler_flag_runs_on_the_cluster_and_states_the_sample(
    scheduler, data, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(memo_cluster, "SAMPLE_ROWS", 2000)
    monkeypatch.setenv("MEDBOOK_SCHEDULER", UNREACHABLE)  # the flag wins
    out = tmp_path / "out"
    assert _memo(_study(tmp_path, data), out, "--scheduler", scheduler) == 0, capsys.readouterr()
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    effects = pd.DataFrame(results["analysis"]["effects"])
    np.testing.assert_allclose(_effects(effects), _in_memory(data), rtol=0, atol=1e-8)
    assert results["analysis"]["details"]["backend"] == "dask"
    assert results["execution"] == {
        "route": "dask",
        "scheduler": scheduler,
        "partitions": 3,
        "data_rows": N,
        "rows_analysed": N,
        "sample_limit": 2000,
        "sampled": True,
        "sample_rows": 2000,
        "sample_seed": SEED,
    }
    for name in ("memo.md", "report.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert "use all 6,000 rows (computed on the Dask cluster)" in text
        assert f"{SAMPLE_SENTENCE} 2,000 of these rows" in text


def test_environment_variable_without_sampling_gives_the_in_memory_memo(
    scheduler, data, tmp_path, monkeypatch, capsys
):
    study = _study(tmp_path, data, bootstrap_weights="poisson")
    assert _memo(study, tmp_path / "memory") == 0, capsys.readouterr()
    monkeypatch.setenv("MEDBOOK_SCHEDULER", scheduler)
    assert _memo(study, tmp_path / "cluster") == 0, capsys.readouterr()
    results = json.loads((tmp_path / "cluster" / "results.json").read_text(encoding="utf-8"))
    assert results["execution"]["sampled"] is False
    assert results["execution"]["sample_rows"] == results["execution"]["rows_analysed"] == N
    np.testing.assert_allclose(
        _effects(pd.DataFrame(results["analysis"]["effects"])), _in_memory(data), rtol=0, atol=1e-8
    )
    for name in ("memo.md", "report.md"):
        cluster = (tmp_path / "cluster" / name).read_text(encoding="utf-8")
        assert SAMPLE_SENTENCE not in cluster
        assert cluster == (tmp_path / "memory" / name).read_text(encoding="utf-8")


def test_the_sample_does_not_depend_on_the_partitions(scheduler, tmp_path):
    frame = _frame()
    limit = 500
    chosen = np.sort(np.argsort(row_uniforms(SEED, np.arange(N)))[:limit])
    with distributed.Client(scheduler):
        samples = []
        for parts in (8, 3):
            ddf = dd.read_parquet(str(_parts(frame, tmp_path / f"p{parts}", parts)))
            assert ddf.npartitions == parts
            sample, total = memo_cluster.sample_rows(ddf, SEED, limit)
            assert total == N
            samples.append(sample)
        everything, total = memo_cluster.sample_rows(ddf, SEED, N)
    pd.testing.assert_frame_equal(samples[0], samples[1])
    expected = frame.iloc[chosen].reset_index(drop=True).astype({"plan": object})
    pd.testing.assert_frame_equal(samples[0], expected, check_dtype=False)
    pd.testing.assert_frame_equal(everything, frame.astype({"plan": object}), check_dtype=False)


@pytest.mark.parametrize("address", [UNREACHABLE, "nonsense"])
def test_an_unreachable_scheduler_is_one_line_and_writes_nothing(
    data, tmp_path, monkeypatch, capsys, address
):
    monkeypatch.setattr(memo_cluster, "CONNECT_TIMEOUT", 1.0)
    out = tmp_path / "out"
    assert _memo(_study(tmp_path, data), out, "--scheduler", address) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"medbook: error: cannot connect to the Dask scheduler at {address!r}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.yml"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda part: part.drop(columns="x"),
            r"column 'x' is missing from data file 'part-01\.parquet'$",
        ),
        (
            lambda part: part.assign(x=part["x"].astype(str)),
            r"column 'x' is (large_)?string in data file 'part-01\.parquet' but double in "
            r"'part-00\.parquet'; every part must have the same column types$",
        ),
    ],
    ids=["missing-column", "other-dtype"],
)
def test_a_bad_partition_is_one_line_and_writes_nothing(
    scheduler, tmp_path, capsys, change, message
):
    folder = tmp_path / "events"
    folder.mkdir()
    frame = _frame(600)
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        part = frame.iloc[rows]
        (change(part) if i == 1 else part).to_parquet(folder / f"part-{i:02d}.parquet")
    assert _memo(_study(tmp_path, folder), tmp_path / "out", "--scheduler", scheduler) == 2
    assert re.search(message, _one_error_line(capsys.readouterr().err))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("options", "extra", "named"),
    [
        ({"method": "delta"}, (), "'method' 'delta' is not available with --scheduler"),
        ({"ci": "bca"}, (), "'ci' 'bca' is not available with --scheduler"),
        ({"scale": "ratio"}, (), "'scale' 'ratio' is not available"),
        ({"bootstrap_weights": "multinomial"}, (), "'bootstrap_weights' 'multinomial'"),
        ({"mediator": ["mediator", "x"], "covariates": ["plan"]}, (), "'mediator' ['mediator'"),
        ({}, ("--by", "plan"), "--scheduler does not write per-segment memos (--by 'plan')"),
        ({"data": "d.csv"}, (), "--scheduler reads Parquet data"),
        ({"covariates": ["xx"]}, (), "column 'xx' not found in the data (did you mean 'x'?)"),
    ],
)
def test_what_the_cluster_cannot_do_and_unknown_columns_are_refused_before_connecting(
    data, tmp_path, monkeypatch, capsys, options, extra, named
):
    def no_connection(address):
        raise AssertionError("connected before refusing")

    monkeypatch.setattr(memo_cluster, "_connected", no_connection)
    _frame(300).to_csv(tmp_path / "d.csv", index=False)
    study = _study(tmp_path, data, **options)
    assert _memo(study, tmp_path / "out", "--scheduler", UNREACHABLE, *extra) == 2
    assert named in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_a_cluster_that_dies_mid_run_is_one_line_and_writes_nothing(
    data, tmp_path, close_on_second_pass, capsys
):
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        close_on_second_pass(cluster)
        code = _memo(
            _study(tmp_path, data), tmp_path / "out", "--scheduler", cluster.scheduler_address
        )
    assert code == 2
    assert "medbook: error: the Dask cluster failed" in _one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.yml"]


def test_help_documents_the_flag_and_an_empty_flag_runs_in_memory(
    data, tmp_path, monkeypatch, capsys
):
    from medbook.cli import build_parser

    memo_help = build_parser()._subparsers._group_actions[0].choices["memo"].format_help()
    assert "--scheduler ADDRESS" in memo_help and "$MEDBOOK_SCHEDULER" in memo_help
    monkeypatch.setenv("MEDBOOK_SCHEDULER", UNREACHABLE)
    assert _memo(_study(tmp_path, data), tmp_path / "out", "--scheduler", "") == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert "execution" not in results and "backend" not in results["analysis"]["details"]
