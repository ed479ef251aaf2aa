"""``medbook memo --scheduler``: the headline analysis on a Dask cluster, the rest on a sample.

With a scheduler address (``--scheduler ADDRESS`` or ``$MEDBOOK_SCHEDULER``) the memo
reads the study's Parquet data lazily as a Dask data frame and runs
:func:`medbook.mediate` on the cluster: the headline estimates and their intervals
use every row, and the rows never come to this machine in full. The parts that
need rows in memory -- the sensitivity analysis, the diagnostics and the
mediator-by-arm figure -- use a random sample of at most :data:`SAMPLE_ROWS`
rows, brought to this machine and analysed with the same options. A row is in
the sample when its keyed hash (:func:`medbook.rowstream.row_uniforms` of the
study's seed and the row's position in the data) is among the :data:`SAMPLE_ROWS`
smallest, so the sample does not depend on how the data are partitioned. When
the data have at most :data:`SAMPLE_ROWS` rows, every part uses all of them.

Everything the cluster route cannot do is refused by :func:`check_cluster_study`
before any work, with a one-line message naming the option.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .backends.dask_passes import ClusterError, compute
from .errors import ConfigError, DataError, MedbookError
from .io import _plain_dtypes
from .mediation import mediate
from .report import Readout, analyse
from .results import MediationResult
from .rowstream import row_uniforms
from .sanitize import clean_text
from .sources import _PARQUET, parquet_parts
from .study import Study

__all__ = [
    "CONNECT_TIMEOUT",
    "SAMPLE_ROWS",
    "ClusterRun",
    "analyse_on_cluster",
    "check_cluster_study",
    "sample_rows",
]

#: Seconds to wait for the scheduler before giving up.
CONNECT_TIMEOUT = 10.0
#: Most rows brought to this machine for the sensitivity analysis, diagnostics and figures.
SAMPLE_ROWS = 200_000
_SPLIT_EVERY = 8
#: What the cluster route does: (option, the value it needs, why).
_NEEDS = (
    ("method", "bootstrap", "the cluster computes the bootstrap"),
    ("ci", "percentile", "the cluster gives percentile intervals"),
    ("scale", "difference", "the cluster estimates differences"),
    ("auto_counts", False, "the cluster fits no count models"),
)


@dataclass(frozen=True)
class ClusterRun:
    """The cluster's headline result and the in-memory result of the sample.

    Attributes
    ----------
    headline : MediationResult
        Every row, on the cluster (its ``data`` is a summary; the rows stayed there).
    rows : MediationResult
        The sample (or every row, when there are at most :data:`SAMPLE_ROWS`), in memory.
    sampled : bool
        Whether ``rows`` is a sample of fewer rows than the data hold.
    execution : dict
        ``results.json``'s ``execution`` section: route, scheduler, row counts.
    """

    headline: MediationResult
    rows: MediationResult
    sampled: bool
    execution: dict[str, Any]

    def readout(self, on_step: Callable[[str], None] | None = None) -> Readout:
        """The headline result with the sensitivity analysis and diagnostics of the sample."""
        readout = analyse(self.rows, on_step=on_step)
        return replace(
            readout, result=self.headline, sample_rows=self.rows.n if self.sampled else None
        )


def check_cluster_study(study: Study, segments: str | None, *, by_flag: bool = False) -> None:
    """Refuse what the cluster route cannot do, before any work.

    Parameters
    ----------
    study : Study
    segments : str or None
        The segment column of the run (``--by`` or the study's ``segments``).
    by_flag : bool
        Whether ``segments`` comes from ``--by`` (for the message).

    Raises
    ------
    ConfigError
        One line naming the option, or the data that is not Parquet.
    DataError
        The data file does not exist.
    """
    where = f"study file {study.path.name!r}"
    if segments:
        origin = "--by" if by_flag else f"{where}: 'segments'"
        raise ConfigError(
            f"--scheduler does not write per-segment memos ({origin} {segments!r}); "
            "run the segments without --scheduler"
        )
    refusals = [
        (name, getattr(study, name), why)
        for name, needed, why in _NEEDS
        if getattr(study, name) != needed
    ]
    if study.outcome_model in ("poisson", "negbin"):
        refusals.append(("outcome_model", study.outcome_model, "the cluster fits no count models"))
    if study.bootstrap_weights == "multinomial" and study.raw.get("bootstrap_weights"):
        refusals.append(
            ("bootstrap_weights", "multinomial", "the cluster draws Poisson(1) weights")
        )
    if study.mediators:
        refusals.append(
            ("mediator", [m.column for m in study.mediators], "the cluster analyses one mediator")
        )
    if study.post_treatment:
        refusals.append(
            (
                "post_treatment",
                [c.column for c in study.post_treatment],
                "the cluster analyses no post-treatment confounders",
            )
        )
    if refusals:
        name, value, why = refusals[0]
        raise ConfigError(
            f"{where}: {name!r} {value!r} is not available with --scheduler ({why}); "
            "change it or run without --scheduler"
        )
    parts = parquet_parts(study.data) or [study.data]
    if not parts[0].is_file():
        raise DataError(f"data file {str(parts[0])!r} does not exist")
    if parts[0].suffix.lower() not in _PARQUET:
        raise ConfigError(
            f"--scheduler reads Parquet data (a .parquet file, a folder or a glob of them); "
            f"convert {parts[0].name!r} to Parquet or run without --scheduler"
        )


def analyse_on_cluster(study: Study, address: str, *, drop_missing: bool = False) -> ClusterRun:
    """Headline analysis on the cluster at ``address``, and the sample, for :func:`write_memo`.

    Parameters
    ----------
    study : Study
        Checked by :func:`check_cluster_study`.
    address : str
        The scheduler, e.g. ``tcp://10.0.0.5:8786``.
    drop_missing : bool
        Drop rows with missing values instead of failing.

    Returns
    -------
    ClusterRun

    Raises
    ------
    MedbookError
        ``ClusterError`` (no scheduler at ``address``, the cluster failed),
        ``DataError`` (a part lacks a column or has another type, bad values), ...
    """
    limit = SAMPLE_ROWS
    columns = _used_columns(study)
    names = _parquet_columns(study.data, columns)
    kwargs = {**study.mediate_kwargs(), "bootstrap_weights": "poisson"}
    with _connected(address):
        ddf = _read_lazy(study.data, names)
        headline = mediate(ddf, **kwargs, drop_missing=drop_missing)
        sample, total = sample_rows(ddf, study.seed, limit)
    rows = mediate(sample, **kwargs, drop_missing=drop_missing)
    sampled = len(sample) < total
    execution = {
        "route": "dask",
        "scheduler": address,
        "partitions": int(ddf.npartitions),
        "data_rows": total,
        "rows_analysed": headline.n,
        "sample_limit": limit,
        "sampled": sampled,
        "sample_rows": rows.n,
        "sample_seed": study.seed,
    }
    return ClusterRun(headline, rows, sampled, execution)


def _used_columns(study: Study) -> list[str]:
    roles = (study.treatment.column, study.mediator.column, study.outcome.column)
    return list(dict.fromkeys((*roles, *study.covariates)))


def _parquet_columns(path: Path, columns: Sequence[str]) -> dict[str, str]:
    """Stored name -> name of each used column, after checking every part's schema.

    Column names are cleaned as the in-memory reader cleans them. The first part is
    checked as an in-memory frame is (unknown, duplicated columns); every other part
    must hold every used column, with the type the first part gives it.
    """
    from .data import _check_columns

    parts = parquet_parts(path) or [path]
    reference: dict[str, tuple[str, Any]] = {}
    for part in parts:
        fields = _fields(part)
        if not reference:
            _check_columns(pd.DataFrame(columns=[name for name, _, _ in fields]), columns)
        stored = {name: (raw, kind) for name, raw, kind in fields if name in columns}
        missing = next((c for c in columns if c not in stored), None)
        if missing is not None:
            raise DataError(f"column {missing!r} is missing from data file {part.name!r}")
        for column in columns if reference else ():
            if stored[column][1] != reference[column][1]:
                raise DataError(
                    f"column {column!r} is {stored[column][1]} in data file {part.name!r} but "
                    f"{reference[column][1]} in {parts[0].name!r}; every part must have the "
                    "same column types"
                )
        reference = reference or stored
    return {reference[c][0]: c for c in columns}


def _fields(part: Path) -> list[tuple[str, str, Any]]:
    """(cleaned name, stored name, Arrow type) of every column of one Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(part)
    except (pa.ArrowException, OSError) as err:
        detail = " ".join(str(err).split())
        raise DataError(f"cannot read Parquet file {part.name!r}: {detail}") from None
    return [(clean_text(field.name), field.name, field.type) for field in schema]


def _read_lazy(path: Path, names: dict[str, str]) -> Any:
    """The used columns of the Parquet data as a Dask data frame (parts in sorted order)."""
    import dask.dataframe as dd

    files = [str(p.absolute()) for p in parquet_parts(path) or [path]]
    try:
        ddf = dd.read_parquet(files, columns=list(names), index=False)
    except Exception as err:
        detail = " ".join(f"{type(err).__name__}: {err}".split())[:200]
        raise DataError(f"the Parquet data cannot be read ({detail})") from None
    renamed = {k: v for k, v in names.items() if k != v}
    return ddf.rename(columns=renamed) if renamed else ddf


@contextlib.contextmanager
def _connected(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``address``, the default while open.

    Distributed's own log messages (lost connections, retries) are kept off stderr
    meanwhile: a failure reaches the user as one :class:`ClusterError` line.
    """
    from distributed import Client

    with _quiet_logs():
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=True)
        except Exception as err:  # a malformed address, nothing listening, a timeout
            detail = " ".join(f"{type(err).__name__}: {err}".split())[:200]
            raise ClusterError(
                f"cannot connect to the Dask scheduler at {address!r} ({detail})"
            ) from None
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.close(timeout=CONNECT_TIMEOUT)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Let only CRITICAL records through the handlers of distributed's loggers meanwhile."""
    loggers = [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name == "distributed" or name.startswith("distributed.")
    ]
    handlers = [handler for logger in loggers for handler in logger.handlers]
    for handler in handlers:
        handler.addFilter(_critical_only)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(_critical_only)


def _critical_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.CRITICAL


def sample_rows(ddf: Any, seed: int, limit: int) -> tuple[pd.DataFrame, int]:
    """A random sample of at most ``limit`` rows of ``ddf``, and the number of rows it has.

    The sample holds the ``limit`` rows whose :func:`medbook.rowstream.row_uniforms`
    of ``seed`` and their position are smallest, in their order in the data (all
    rows when there are at most ``limit``). Only the sample comes to this machine:
    each partition sends the rows below a threshold, and the smallest ``limit`` are
    chosen in a tree on the cluster.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
    seed : int
    limit : int

    Returns
    -------
    (pandas.DataFrame, int)
        The sample (text columns as ``object``, as the in-memory reader gives them)
        and the number of rows of ``ddf``.
    """
    import dask

    parts = ddf.to_delayed()
    lengths = _compute(*(dask.delayed(len, pure=True)(p) for p in parts))
    total = int(sum(lengths))
    if total <= limit:
        chosen = pd.concat(_compute(*parts), ignore_index=True)
        return _plain_dtypes(chosen), total
    # Rows below the threshold number limit + 8 standard deviations on average, so the
    # sample almost surely has ``limit`` rows; which rows are chosen never depends on it.
    threshold = min(1.0, (limit + 8.0 * math.sqrt(limit) + 32.0) / total)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    level = [
        dask.delayed(_below, pure=True)(part, int(start), seed, threshold)
        for part, start in zip(parts, offsets, strict=True)
    ]
    while len(level) > 1:
        level = [
            dask.delayed(_smallest, pure=True)(level[i : i + _SPLIT_EVERY], limit)
            for i in range(0, len(level), _SPLIT_EVERY)
        ]
    frame, _, positions = _smallest([_compute(level[0])[0]], limit)
    chosen = frame.iloc[np.argsort(positions, kind="stable")].reset_index(drop=True)
    return _plain_dtypes(chosen), total


def _below(
    part: pd.DataFrame, start: int, seed: int, threshold: float
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The rows of one partition whose number is below ``threshold`` (runs on a worker)."""
    positions = np.arange(start, start + len(part), dtype=np.int64)
    numbers = row_uniforms(seed, positions)
    keep = numbers < threshold
    return part.iloc[keep], numbers[keep], positions[keep]


def _smallest(
    pieces: Sequence[tuple[pd.DataFrame, np.ndarray, np.ndarray]], limit: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The ``limit`` rows with the smallest numbers (then positions) of several pieces."""
    frame = pd.concat([p[0] for p in pieces])
    numbers = np.concatenate([p[1] for p in pieces])
    positions = np.concatenate([p[2] for p in pieces])
    order = np.lexsort((positions, numbers))[:limit]
    return frame.iloc[order], numbers[order], positions[order]


def _compute(*objects: Any) -> tuple[Any, ...]:
    """:func:`medbook.backends.dask_passes.compute`, with a reading failure as a ``DataError``."""
    try:
        return compute(*objects)
    except MedbookError:
        raise
    except Exception as err:
        detail = " ".join(f"{type(err).__name__}: {err}".split())[:200]
        raise DataError(f"a partition of the data cannot be read ({detail})") from None
