"""Study configuration files (medbook.study.load_study)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medbook.errors import ConfigError
from medbook.study import Role, load_study

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "onboarding" / "study.yml"


def _study(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = "data: d.csv\ntreatment: t\nmediator: m\noutcome: y\n"


def test_example_study():
    study = load_study(EXAMPLE)
    assert study.data == EXAMPLE.parent / "data.csv"
    assert study.treatment == Role("onboarding_call", "Onboarding call")
    assert study.covariates == ("plan", "tenure_months", "prior_usage")
    assert study.interaction is True
    assert study.n_boot == 2000 and study.seed == 2026
    assert study.cde_at == (0.0, 1.0)
    assert study.question.startswith("Should we invest")
    assert len(study.sha256) == 64
    kwargs = study.mediate_kwargs()
    assert kwargs["treatment"] == "onboarding_call" and kwargs["cde_at"] == [0.0, 1.0]


def test_defaults_and_plain_roles(tmp_path):
    study = load_study(_study(tmp_path, BASE))
    assert study.mediator == Role("m", "m")
    assert study.method == "bootstrap" and study.ci == "percentile"
    assert study.covariates == () and study.cde_at == ()
    assert study.conf_level == 0.95 and study.randomized is True
    assert study.mediate_kwargs()["cde_at"] is None


def test_data_relative_to_yaml_and_override(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    path = sub / "s.yml"
    path.write_text(BASE)
    assert load_study(path).data == sub / "d.csv"
    assert load_study(path, Path("other.csv")).data == Path("other.csv")


def test_override_makes_data_optional(tmp_path):
    path = _study(tmp_path, "treatment: t\nmediator: m\noutcome: y\n")
    assert load_study(path, Path("x.csv")).data == Path("x.csv")
    with pytest.raises(ConfigError, match="missing required key\\(s\\): data"):
        load_study(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("treatmnet: x\nfoo: 1\n", "unknown key\\(s\\): treatmnet, foo"),
        ("n_boot: many\n", "'n_boot' must be an integer, got str"),
        ("n_boot: true\n", "'n_boot' must be an integer, got bool"),
        ("n_boot: 10\n", "'n_boot' must be between 50"),
        ("seed: 1.5\n", "'seed' must be an integer"),
        ("interaction: yes please\n", "'interaction' must be true or false"),
        ("method: magic\n", "'method' must be one of bootstrap, quasi_bayes, delta"),
        ("ci: wide\n", "'ci' must be one of"),
        ("cde_at: [0, abc]\n", "'cde_at' must be a number or a list of numbers"),
        ("covariates: {a: 1}\n", "'covariates' must be a list"),
        ("covariates: [a, a]\n", "covariate 'a' is listed twice"),
        ("conf_level: 95\n", "'conf_level' must be a number in"),
        ("question: [a, b]\n", "'question' must be a non-empty string"),
        ("mediator_model: tree\n", "'mediator_model' must be one of"),
        ("treated: [1, 2]\n", "'treated' must be a single value"),
    ],
)
def test_bad_values(tmp_path, extra, message):
    path = _study(tmp_path, BASE + extra)
    with pytest.raises(ConfigError, match=message) as info:
        load_study(path)
    assert "\n" not in str(info.value)


def test_bad_role_mappings(tmp_path):
    text = "data: d.csv\ntreatment: {column: t, lable: T}\nmediator: m\noutcome: y\n"
    with pytest.raises(ConfigError, match="'treatment' has unknown key\\(s\\): lable"):
        load_study(_study(tmp_path, text))
    text = "data: d.csv\ntreatment: {label: T}\nmediator: m\noutcome: y\n"
    with pytest.raises(ConfigError, match="needs a 'column'"):
        load_study(_study(tmp_path, text))
    text = "data: d.csv\ntreatment: [t]\nmediator: m\noutcome: y\n"
    with pytest.raises(ConfigError, match="'treatment' must be a column name"):
        load_study(_study(tmp_path, text))


def test_missing_required(tmp_path):
    with pytest.raises(ConfigError, match="missing required key\\(s\\): mediator, outcome"):
        load_study(_study(tmp_path, "data: d.csv\ntreatment: t\n"))


def test_not_yaml_or_not_mapping(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML at line 3"):
        load_study(_study(tmp_path, "data: d.csv\ntreatment: [t\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_study(_study(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_study(tmp_path / "nope.yml")


def test_unsafe_yaml_tags_are_refused(tmp_path):
    text = BASE + "question: !!python/object/apply:os.system ['echo hacked']\n"
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_study(_study(tmp_path, text))


def test_hostile_labels_are_kept_as_text(tmp_path):
    text = (
        "data: d.csv\n"
        "treatment: {column: '<script>alert(1)</script>', label: '#set page(width: 1pt)'}\n"
        "mediator: {column: m, label: '[x](javascript:alert(1))'}\n"
        "outcome: {column: y, label: '{{ 7 * 7 }}'}\n"
    )
    study = load_study(_study(tmp_path, text))
    assert study.treatment.column == "<script>alert(1)</script>"
    assert study.outcome.label == "{{ 7 * 7 }}"
