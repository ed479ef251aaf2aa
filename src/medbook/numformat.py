"""Numbers for readers: as many digits as the uncertainty warrants, never a row of zeros.

An effect is printed with a fixed number of decimals (three for differences, one
for percentage points) as long as its interval is wide enough to show at least
one significant digit that way. Narrower intervals get enough decimals to show
two significant digits of their width, so an effect of 2e-6 with an interval
from 1e-6 to 3e-6 never prints as ``0.000 (0.000 to 0.000)``. Very small or very
large numbers switch to a shared power of ten (``1.23 × 10⁻⁹``) instead of a
long run of zeros or digits.

:func:`row_formatter` returns one formatter for an estimate, its standard error
and its interval (the same resolution for all); :func:`format_level` formats a
stand-alone number (a mean, a potential outcome) by significant digits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

__all__ = ["format_level", "format_scaled", "resolution", "row_formatter"]

_FIXED_MIN_EXPONENT = -4
_FIXED_MAX_EXPONENT = 9
_MAX_MANTISSA_DECIMALS = 12
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return False


def _decade(value: float) -> int:
    return math.floor(math.log10(abs(value)))


def resolution(values: Iterable[object], decimals: int = 3) -> int:
    """Decimal places that show the spread of ``values`` to two significant digits.

    Parameters
    ----------
    values : iterable of float
        The numbers shown together: an estimate and its interval limits.
        Non-finite values are ignored.
    decimals : int
        The usual number of decimals, kept whenever the spread (the interval's
        width) shows at least one significant digit with it.

    Returns
    -------
    int
        Decimal places (may be negative for huge numbers, meaning rounding to tens,
        hundreds, ...).

    Examples
    --------
    >>> resolution([0.21, 0.05, 0.38])
    3
    >>> resolution([2e-6, 1e-6, 3.1e-6])
    7
    >>> resolution([1.5e-9, 1.5e-9])
    10
    """
    finite = [float(v) for v in values if _finite(v)]
    if not finite:
        return decimals
    width = max(finite) - min(finite)
    if width >= 10.0 ** -decimals:
        return decimals if width < 10.0 ** (_FIXED_MAX_EXPONENT - 1) else 1 - _decade(width)
    scale = width if width > 0 else max(abs(v) for v in finite)
    if scale == 0:
        return decimals
    return max(decimals, 1 - _decade(scale))


def format_scaled(value: object, places: int, exponent: int | None) -> str:
    """One number with ``places`` decimals, or as mantissa × 10^exponent.

    Examples
    --------
    >>> format_scaled(1.234e-9, 11, -9)
    '1.23 × 10⁻⁹'
    >>> format_scaled(-0.0004, 3, None)
    '0.000'
    """
    if not _finite(value):
        return "n/a"
    number = float(value)  # type: ignore[arg-type]
    if exponent is None:
        text = f"{number:.{max(places, 0)}f}" if places >= 0 else f"{round(number, places):.0f}"
        return text[1:] if text.startswith("-") and not text.strip("-0.") else text
    mantissa_places = min(max(places + exponent, 0), _MAX_MANTISSA_DECIMALS)
    mantissa = f"{number / 10.0 ** exponent:.{mantissa_places}f}"
    if mantissa.startswith("-") and not mantissa.strip("-0."):
        mantissa = mantissa[1:]
    return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def row_formatter(values: Iterable[object], decimals: int = 3) -> Callable[[object], str]:
    """A formatter for numbers shown together (an estimate, its SE and interval).

    Parameters
    ----------
    values : iterable of float
        The estimate and its interval limits (they set the resolution).
    decimals : int
        Usual number of decimals (3 for differences, 1 for percentage points).

    Returns
    -------
    callable
        Formats any number at the row's resolution; in scientific form with the
        row's shared power of ten when the largest number is below 10⁻⁴ or
        reaches 10⁹.

    Examples
    --------
    >>> fmt = row_formatter([0.4213, 0.1, 0.72])
    >>> fmt(0.4213), fmt(0.1)
    ('0.421', '0.100')
    >>> fmt = row_formatter([2.1e-9, 1.3e-9, 2.9e-9])
    >>> fmt(2.1e-9), fmt(1.3e-9)
    ('2.1 × 10⁻⁹', '1.3 × 10⁻⁹')
    """
    values = [float(v) for v in values if _finite(v)]  # type: ignore[arg-type]
    places = resolution(values, decimals)
    biggest = max((abs(v) for v in values if v != 0), default=0.0)
    exponent = None
    if biggest and not _FIXED_MIN_EXPONENT <= _decade(biggest) < _FIXED_MAX_EXPONENT:
        exponent = _decade(biggest)
    return lambda value: format_scaled(value, places, exponent)


def format_level(value: object, digits: int = 3) -> str:
    """A stand-alone number: three decimals in the usual range, else significant digits.

    Examples
    --------
    >>> format_level(0.51234), format_level(3.2e-7), format_level(1e154)
    ('0.512', '3.20 × 10⁻⁷', '1.00 × 10¹⁵⁴')
    >>> format_level(0.0)
    '0.000'
    """
    if not _finite(value):
        return "n/a"
    number = float(value)  # type: ignore[arg-type]
    if number == 0 or 10.0 ** -digits <= abs(number) < 10.0 ** _FIXED_MAX_EXPONENT:
        return format_scaled(number, digits, None)
    exponent = _decade(number)
    return format_scaled(number, digits - 1 - exponent, exponent)
