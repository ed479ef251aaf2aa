"""Study configuration files (YAML) for ``medbook memo``.

A study file names the data, the roles of its columns (with display labels),
the analysis options and the decision question. It is parsed with
``yaml.safe_load`` only and validated strictly: unknown keys, wrong types and
out-of-range values raise a one-line :class:`~medbook.errors.ConfigError`.
"""

from __future__ import annotations

import hashlib
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .options import OPTIONS, resolve
from .sanitize import clean_text

__all__ = ["Role", "Study", "load_study"]

_MAX_CONFIG_BYTES = 256 * 1024
#: Values a study file may hold once YAML aliases are expanded (a "billion laughs"
#: file of a few hundred bytes expands to billions).
_MAX_VALUES = 10_000
_QUOTE_CHARS = 60
_MAX_TEXT = 500
#: Keys of a study file: the roles and texts here, then every analysis option of
#: :data:`medbook.options.OPTIONS`.
_KEYS = (
    "data", "treatment", "mediator", "outcome", "covariates", "question", "title", "population",
    "randomized", "segments", "post_treatment", *OPTIONS,
)
_REQUIRED = ("data", "treatment", "mediator", "outcome")


@dataclass(frozen=True)
class Role:
    """A column with the label shown to readers."""

    column: str
    label: str


@dataclass(frozen=True)
class Study:
    """A validated study configuration.

    Attributes
    ----------
    path : pathlib.Path
        The YAML file.
    data : pathlib.Path
        Data file (resolved relative to the YAML file, or the override).
    treatment, mediator, outcome : Role
        Columns and display labels.
    covariates : tuple of str
        Pre-treatment covariate columns.
    interaction : bool
        Include a treatment x mediator term in the outcome model.
    method, ci, mediator_model, outcome_model, bootstrap_weights : str
        Options passed to :func:`medbook.mediate` (see :data:`medbook.options.OPTIONS`).
    scale : str
        ``difference``, ``ratio`` or ``odds_ratio``.
    auto_counts : bool
        Let ``outcome_model: auto`` fit Poisson to a count outcome.
    n_boot, seed : int
        Replicates and random seed.
    cde_at : tuple of float
        Mediator values for controlled direct effects.
    conf_level : float
        Confidence level of intervals (default 0.95).
    question, title, population : str
        Decision question, memo title and the population studied (free text).
    treated : str, int, float, bool or None
        Treatment value of the treated arm; required unless the treatment is
        coded 0/1 or false/true.
    randomized : bool
        Whether treatment was randomised (default true); changes the stated
        identification assumptions.
    segments : str or None
        Column whose values split the data into one memo per segment.
    mediators : tuple of Role
        Every mediator in causal order when ``mediator:`` lists several
        (``mediator`` is then the first); empty for a single mediator.
    post_treatment : tuple of Role
        Post-treatment confounders (``post_treatment:``, a role or a list of roles).
    raw : dict
        The parsed YAML, as written.
    sha256 : str
        Hash of the YAML file's bytes.
    """

    path: Path
    data: Path
    treatment: Role
    mediator: Role
    outcome: Role
    covariates: tuple[str, ...] = ()
    interaction: bool = False
    method: str = "bootstrap"
    n_boot: int = 1000
    seed: int = 1
    cde_at: tuple[float, ...] = ()
    ci: str = "percentile"
    conf_level: float = 0.95
    question: str = ""
    title: str = ""
    population: str = ""
    treated: Any = None
    mediator_model: str | tuple[str, ...] = "auto"
    outcome_model: str = "auto"
    bootstrap_weights: str = "multinomial"
    scale: str = "difference"
    auto_counts: bool = False
    randomized: bool = True
    segments: str | None = None
    mediators: tuple[Role, ...] = ()
    post_treatment: tuple[Role, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    sha256: str = ""

    def mediate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`medbook.mediate` (without the data frame)."""
        return {
            "treatment": self.treatment.column,
            "mediator": [m.column for m in self.mediators] or self.mediator.column,
            "post_treatment": [c.column for c in self.post_treatment] or None,
            "outcome": self.outcome.column,
            "covariates": list(self.covariates),
            "interaction": self.interaction,
            "mediator_model": (list(self.mediator_model) if isinstance(self.mediator_model, tuple)
                               else self.mediator_model),
            "outcome_model": self.outcome_model,
            "method": self.method,
            "n_boot": self.n_boot,
            "ci": self.ci,
            "cde_at": list(self.cde_at) or None,
            "seed": self.seed,
            "conf_level": self.conf_level,
            "treated": self.treated,
            "bootstrap_weights": self.bootstrap_weights,
            "scale": self.scale,
            "auto_counts": self.auto_counts,
        }


def load_study(path: Path, data_override: Path | None = None) -> Study:
    """Read and validate a study YAML file.

    Parameters
    ----------
    path : pathlib.Path
        The study file.
    data_override : pathlib.Path, optional
        Data file to use instead of the config's ``data`` entry (relative to
        the current directory).

    Returns
    -------
    Study

    Raises
    ------
    ConfigError
        If the file is missing, not valid YAML, has unknown keys, or a value has
        the wrong type or range.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> text = "data: d.csv\\ntreatment: t\\nmediator: m\\noutcome: y\\n"
    >>> _ = (folder / "s.yml").write_text(text)
    >>> load_study(folder / "s.yml").mediator
    Role(column='m', label='m')
    """
    path = Path(path)
    where = path.name
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError as err:
        raise ConfigError(f"study file {str(path)!r} does not exist") from err
    except IsADirectoryError as err:
        raise ConfigError(f"study file {str(path)!r} is a directory") from err
    except OSError as err:
        raise ConfigError(f"cannot read study file {str(path)!r}: {err.strerror}") from err
    if len(raw_bytes) > _MAX_CONFIG_BYTES:
        raise ConfigError(f"study file {where!r} is larger than {_MAX_CONFIG_BYTES // 1024} KiB")
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"study file {where!r} is not UTF-8 text") from err
    try:
        raw = yaml.safe_load(text)
    except RecursionError as err:
        raise ConfigError(f"study file {where!r} nests values too deeply") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError(f"study file {where!r} is not valid YAML{at}: {problem}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"study file {where!r} must be a mapping of keys to values")
    _check_expansion(raw, where)
    unknown = [_quote(k) if not isinstance(k, str) else k for k in raw if k not in _KEYS]
    if unknown:
        shown = ", ".join(k if len(k) <= 40 else k[:39] + "…" for k in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ConfigError(
            f"study file {where!r} has unknown key(s): {shown}{more} "
            f"(allowed: {', '.join(_KEYS)})"
        )
    missing = [k for k in _REQUIRED if k not in raw or raw[k] is None]
    if missing and not (missing == ["data"] and data_override is not None):
        raise ConfigError(f"study file {where!r} is missing required key(s): {', '.join(missing)}")

    if data_override is not None:
        data = Path(data_override)
    else:
        data_entry = _text(raw, "data", where, limit=4096, clean=False)
        data = Path(data_entry)
        if not data.is_absolute():
            data = path.parent / data
    roles = {r: _role(raw[r], r, where) for r in ("treatment", "outcome")}
    mediators = _roles(raw["mediator"], "mediator", where)
    confounders = _roles(raw.get("post_treatment"), "post_treatment", where)
    covariates = _covariates(raw.get("covariates"), where)
    options = resolve({k: v for k, v in raw.items() if k in OPTIONS}, study_file=where)
    _check_model_list(options["mediator_model"], len(mediators), where)
    return Study(
        path=path,
        data=data,
        treatment=roles["treatment"],
        mediator=mediators[0],
        outcome=roles["outcome"],
        covariates=covariates,
        question=_text(raw, "question", where, default=""),
        title=_text(raw, "title", where, default=""),
        population=_text(raw, "population", where, default=""),
        randomized=_boolean(raw, "randomized", True, where),
        segments=(
            _column_name(raw["segments"], "segments", where)
            if raw.get("segments") is not None else None
        ),
        mediators=mediators if len(mediators) > 1 else (),
        post_treatment=confounders,
        raw=raw,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        **{**options, "cde_at": options["cde_at"] or ()},
    )


def _check_expansion(raw: Any, where: str) -> None:
    """Refuse a file whose values, with YAML aliases expanded, exceed :data:`_MAX_VALUES`.

    Aliases make shared (or cyclic) references, so a tiny file can describe an
    astronomically large structure; counting stops at the bound.
    """
    stack, count = [raw], 0
    while stack:
        value = stack.pop()
        count += 1
        if count > _MAX_VALUES:
            raise ConfigError(
                f"study file {where!r} expands to more than {_MAX_VALUES:,} values "
                "(YAML aliases repeating a block, or a self-referencing alias); write the "
                "values out"
            )
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set)):
            stack.extend(value)


def _quote(value: Any, limit: int = _QUOTE_CHARS) -> str:
    """A short ``repr`` of a user value for messages (nested values and long text cut)."""
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxtuple, short.maxdict = 2, 4, 4, 4
    short.maxstring, short.maxother = limit, limit
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_text(value: str, key: str, where: str, limit: int, *, clean: bool = True) -> str:
    """Length and NUL checks; labels and names are normalised by :func:`clean_text`."""
    if "\x00" in value:
        raise ConfigError(f"study file {where!r}: {key!r} contains a NUL character")
    if len(value) > limit:
        raise ConfigError(f"study file {where!r}: {key!r} is longer than {limit} characters")
    if not clean:
        return value
    text = clean_text(value)
    if not text:
        raise ConfigError(f"study file {where!r}: {key!r} has no printable characters")
    return text


def _text(
    raw: dict[str, Any], key: str, where: str, *, default: str | None = None,
    limit: int = _MAX_TEXT, clean: bool = True,
) -> str:
    value = raw.get(key)
    if value is None:
        if default is None:
            raise ConfigError(f"study file {where!r}: {key!r} is required")
        return default
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"study file {where!r}: {key!r} must be a non-empty string, got {_type_name(value)}"
        )
    return _check_text(value.strip(), key, where, limit, clean=clean)


def _column_name(value: Any, key: str, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(
            f"study file {where!r}: {key!r} must be a column name, got {_type_name(value)}"
        )
    name = str(value)
    if not name.strip():
        raise ConfigError(f"study file {where!r}: {key!r} must not be empty")
    return _check_text(name, key, where, _MAX_TEXT)


def _role(value: Any, key: str, where: str) -> Role:
    if isinstance(value, dict):
        extra = [str(k) for k in value if k not in ("column", "label")]
        if extra:
            raise ConfigError(
                f"study file {where!r}: {key!r} has unknown key(s): {', '.join(extra)} "
                "(allowed: column, label)"
            )
        if "column" not in value:
            raise ConfigError(f"study file {where!r}: {key!r} needs a 'column'")
        column = _column_name(value["column"], f"{key}.column", where)
        label = value.get("label")
        if label is None:
            return Role(column, column)
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(
                f"study file {where!r}: '{key}.label' must be a non-empty string, "
                f"got {_type_name(label)}"
            )
        return Role(column, _check_text(label.strip(), f"{key}.label", where, _MAX_TEXT))
    column = _column_name(value, key, where)
    return Role(column, column)


def _roles(value: Any, key: str, where: str) -> tuple[Role, ...]:
    """One role, or a non-empty list of distinct roles (several mediators, confounders)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        return (_role(value, key, where),)
    if not value:
        raise ConfigError(f"study file {where!r}: {key!r} must not be an empty list")
    roles = tuple(_role(v, key, where) for v in value)
    columns = [r.column for r in roles]
    repeated = [c for c in columns if columns.count(c) > 1]
    if repeated:
        raise ConfigError(f"study file {where!r}: {key} {repeated[0]!r} is listed twice")
    return roles


def _check_model_list(models: Any, n_mediators: int, where: str) -> None:
    """A list under ``mediator_model`` names one model per mediator."""
    if isinstance(models, tuple) and len(models) != n_mediators:
        raise ConfigError(
            f"study file {where!r}: 'mediator_model' lists {len(models)} models for "
            f"{n_mediators} mediator(s)"
        )


def _covariates(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(
            f"study file {where!r}: 'covariates' must be a list of column names, "
            f"got {_type_name(value)}"
        )
    names = tuple(_column_name(v, "covariates", where) for v in value)
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"study file {where!r}: covariate {duplicated[0]!r} is listed twice")
    return names


def _boolean(raw: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError(
            f"study file {where!r}: {key!r} must be true or false, got {_type_name(value)}"
        )
    return value
