"""Engine benchmark: medbook against the usual ways of bootstrapping mediation effects.

Every baseline runs on the same data in the same process, so the printed ratios
are robust to a noisy machine. Slow baselines run fewer replicates and are
scaled linearly to 1,000 replicates (their cost is linear in the replicate count);
the output says so.

Run with ``make bench`` (or ``python bench/bench_engine.py [--quick]``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

import medbook
from medbook.simulate import simulate_binary, simulate_linear

B = 1000


def _timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def notebook_linear_loop(df: pd.DataFrame, reps: int) -> None:
    """The teaching notebook's loop: three statsmodels formula fits per replicate."""
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(2026)
    n = len(df)
    for _ in range(reps):
        d = df.iloc[rng.integers(0, n, size=n)]
        a = smf.ols("mediator ~ treatment + x", data=d).fit().params["treatment"]
        fit = smf.ols("outcome ~ treatment + mediator + x", data=d).fit()
        smf.ols("outcome ~ treatment + x", data=d).fit()
        _ = a * fit.params["mediator"]


def statsmodels_mediation(df: pd.DataFrame, reps: int) -> None:
    """statsmodels' Mediation class with bootstrap refits."""
    import statsmodels.api as sm
    from statsmodels.stats.mediation import Mediation

    exog_out = sm.add_constant(df[["treatment", "mediator", "x"]])
    exog_med = sm.add_constant(df[["treatment", "x"]])
    outcome = sm.OLS(df["outcome"], exog_out)
    mediator = sm.OLS(df["mediator"], exog_med)
    np.random.seed(0)  # noqa: NPY002 -- statsmodels Mediation draws from the global generator
    Mediation(outcome, mediator, "treatment", "mediator").fit(method="bootstrap", n_rep=reps)


def pingouin_mediation(df: pd.DataFrame, reps: int) -> None:
    import pingouin as pg

    pg.mediation_analysis(
        data=df, x="treatment", m="mediator", y="outcome", covar=["x"], n_boot=reps, seed=1
    )


def logit_refit_loop(df: pd.DataFrame, reps: int) -> None:
    """A lean g-formula bootstrap: two array-based statsmodels Logit fits per replicate."""
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    n = len(df)
    t, m, x, y = (df[c].to_numpy(float) for c in ("treatment", "mediator", "x", "outcome"))
    for _ in range(reps):
        i = rng.integers(0, n, size=n)
        xm = np.column_stack([np.ones(n), t[i], x[i]])
        xy = np.column_stack([np.ones(n), t[i], m[i], t[i] * m[i], x[i]])
        am = sm.Logit(m[i], xm).fit(disp=0).params
        by = sm.Logit(y[i], xy).fit(disp=0).params

        def ey(ty, tm, am=am, by=by, i=i):
            pm = 1 / (1 + np.exp(-(am[0] + am[1] * tm + am[2] * x[i])))
            base = by[0] + by[1] * ty + by[4] * x[i]
            y1 = 1 / (1 + np.exp(-(base + by[2] + by[3] * ty)))
            y0 = 1 / (1 + np.exp(-base))
            return np.mean(pm * y1 + (1 - pm) * y0)

        _ = [ey(a, b) for a in (0, 1) for b in (0, 1)]


def notebook_logit_loop(df: pd.DataFrame, reps: int) -> None:
    """The notebook's g-formula code in a bootstrap loop: formula Logit fits + predict()."""
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(1)
    n = len(df)
    for _ in range(reps):
        d = df.iloc[rng.integers(0, n, size=n)].reset_index(drop=True)
        med = smf.logit("mediator ~ treatment + x", data=d).fit(disp=False)
        out = smf.logit("outcome ~ treatment + mediator + treatment:mediator + x", data=d).fit(
            disp=False
        )
        base = d[["x"]]
        for ty in (0, 1):
            for tm in (0, 1):
                p_m = med.predict(base.assign(treatment=tm))
                y1 = out.predict(base.assign(treatment=ty, mediator=1))
                y0 = out.predict(base.assign(treatment=ty, mediator=0))
                _ = np.mean(y1 * p_m + y0 * (1 - p_m))


def _medbook_linear(df: pd.DataFrame) -> None:
    medbook.mediate(df, "treatment", "mediator", "outcome", ["x"], n_boot=B, seed=1)


def _medbook_binary(df: pd.DataFrame) -> None:
    medbook.mediate(
        df, "treatment", "mediator", "outcome", ["x"], interaction=True, n_boot=B, seed=1
    )


def _per_1000(func, df: pd.DataFrame, reps: int) -> float:
    return _timed(lambda: func(df, reps)) * B / reps


def _large_n_child(n: int) -> None:
    """Run in a subprocess: n rows, 1,000 replicates; print seconds and peak RSS."""
    rng = np.random.default_rng(5)
    t = rng.binomial(1, 0.5, n)
    x = rng.normal(size=n)
    m = 0.5 * t + 0.5 * x + rng.normal(size=n)
    y = 0.3 * t + 0.8 * m + 0.4 * x + rng.normal(size=n)
    df = pd.DataFrame({"treatment": t, "mediator": m, "outcome": y, "x": x})
    del t, x, m, y
    seconds = _timed(lambda: _medbook_linear(df))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer baseline replicates")
    parser.add_argument("--large-n", type=int, default=1_000_000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _large_n_child(args.child)
        return
    warnings.filterwarnings("ignore")
    small = 20 if args.quick else 100

    lin = simulate_linear()
    _medbook_linear(lin)  # warm-up (imports, BLAS threads)
    t_med = min(_timed(lambda: _medbook_linear(lin)) for _ in range(3))
    t_nb = _per_1000(notebook_linear_loop, lin, small)
    t_sm = _per_1000(statsmodels_mediation, lin, max(small // 2, 10))
    t_pg = _per_1000(pingouin_mediation, lin, B if not args.quick else 200)
    print(f"Linear mediation, n={len(lin):,}, {B:,} bootstrap replicates (seconds per 1,000):")
    print(f"  medbook                          {t_med:8.3f}")
    print(f"  notebook statsmodels-formula loop{t_nb:8.1f}   ratio {t_nb / t_med:7.0f}x")
    print(f"  statsmodels Mediation (bootstrap){t_sm:8.1f}   ratio {t_sm / t_med:7.0f}x")
    print(f"  pingouin mediation_analysis      {t_pg:8.2f}   ratio {t_pg / t_med:7.1f}x")

    binary = simulate_binary()
    _medbook_binary(binary)
    t_mb = min(_timed(lambda: _medbook_binary(binary)) for _ in range(2))
    t_loop = _per_1000(logit_refit_loop, binary, small)
    t_formula = _per_1000(notebook_logit_loop, binary, small)
    print(f"Binary g-formula with interaction, n={len(binary):,}, {B:,} replicates:")
    print(f"  medbook                          {t_mb:8.3f}")
    print(f"  notebook formula Logit loop      {t_formula:8.1f}   ratio {t_formula / t_mb:7.0f}x")
    print(f"  lean array Logit refit loop      {t_loop:8.1f}   ratio {t_loop / t_mb:7.0f}x")

    out = subprocess.run(
        [sys.executable, __file__, "--child", str(args.large_n)],
        capture_output=True, text=True, check=True,
    )
    big = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"Linear, n={args.large_n:,}, {B:,} replicates: {big['seconds']:.1f} s, "
          f"peak memory {big['peak_mb']:.0f} MB")
    print("(baselines with fewer replicates are scaled linearly to 1,000)")


if __name__ == "__main__":
    main()
