"""Argument checks shared by every public entry point.

Public methods of nfref validate what they are given and refuse it with a
``ValueError`` that says what was expected and what came; the private methods
that hold the maths can then assume clean float64 arrays.
"""

import numbers

import numpy as np


def as_real(a, name="input"):
    """Return ``a`` as a float64 array, refusing what is not a real number.

    Complex values (whose imaginary part ``np.asarray(..., float)`` would drop with only a
    warning), booleans' object cousins, strings, ``None`` and ragged lists get a
    ``ValueError`` naming ``name``; finiteness is not checked here.
    """
    try:
        raw = np.asarray(a)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a real numeric array; could not read it as an "
                         f"array ({exc})") from None
    if np.iscomplexobj(raw):
        raise ValueError(f"{name}: expected real numbers, got a complex array "
                         f"(dtype {raw.dtype})")
    if raw.dtype.kind not in "biuf":
        if raw.dtype.kind == "O":
            if any(isinstance(v, complex) or np.iscomplexobj(v) for v in raw.ravel()):
                raise ValueError(f"{name}: expected real numbers, got complex entries")
            if any(v is None for v in raw.ravel()):          # float(None) would give NaN
                raise ValueError(f"{name}: expected real numbers, got None")
        else:
            raise ValueError(f"{name}: expected a real numeric array, got dtype {raw.dtype}")
    try:
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a real numeric array; could not convert it to "
                         f"float64 ({exc})") from None


def _range(low, high, low_open=False, high_open=False):
    """The range a value must lie in, as the messages of :func:`as_int` and :func:`as_float`
    print it: ``" in [a, b)"``, ``" >= a"``, ``" < b"`` or ``""`` with no bound."""
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


def as_int(value, name, minimum=None, maximum=None):
    """Return ``value`` as a Python ``int``, or raise ``ValueError`` saying what was expected.

    Accepts Python and NumPy integers and integral floats of exactly integer value (``3.0``);
    refuses ``bool``, ``None``, non-integral or non-finite floats, strings, lists and arrays.
    ``minimum`` and ``maximum`` (inclusive) bound the value when given.
    """
    expected = f"{name}: expected an integer{_range(minimum, maximum)}, got {value!r}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(expected)
    if isinstance(value, numbers.Integral):
        out = int(value)
    else:
        f = float(value)
        if not np.isfinite(f) or f != int(f):
            raise ValueError(expected)
        out = int(f)
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
        raise ValueError(expected)
    return out


def as_float(value, name, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a finite Python ``float``, or raise ``ValueError`` saying what was
    expected.

    Accepts Python and NumPy reals (a 0-d real array too); refuses ``bool``, ``None``,
    complex, strings, sequences, NaN and infinities. ``low`` and ``high`` bound the value,
    inclusive unless ``low_open``/``high_open``.
    """
    expected = (f"{name}: expected a finite real number"
                f"{_range(low, high, low_open, high_open)}, got {value!r}")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(expected)
    out = float(value)
    if not np.isfinite(out):
        raise ValueError(expected)
    if low is not None and (out < low or (low_open and out == low)):
        raise ValueError(expected)
    if high is not None and (out > high or (high_open and out == high)):
        raise ValueError(expected)
    return out


def as_choice(value, name, options):
    """Return ``value`` if it is one of the strings ``options``, else ``ValueError``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}: expected one of {', '.join(repr(o) for o in options)}, "
                         f"got {value!r}")
    return value


def as_callable(value, name):
    """Return ``value`` if it is callable, else ``ValueError`` naming ``name``."""
    if not callable(value):
        raise ValueError(f"{name}: expected a callable, got {type(value).__name__}")
    return value


def as_batch(a, dim, name="input"):
    """Return ``a`` as a finite float64 array of shape ``(n, dim)``.

    Parameters
    ----------
    a : array_like
        The array to check.
    dim : int
        The required number of columns.
    name : str
        How the array is called in error messages.

    Raises
    ------
    ValueError
        If ``a`` is not two-dimensional with ``dim`` columns, is empty along
        the batch axis, or holds a NaN or an infinity.
    """
    arr = as_real(a, name)
    if arr.ndim != 2 or arr.shape[1] != dim:
        hint = ""
        if arr.ndim == 1 and arr.shape[0] == dim:
            hint = f"; for a single point use {name}[None, :] (shape (1, {dim}))"
        raise ValueError(f"{name}: expected an array of shape (n, {dim}), got shape "
                         f"{arr.shape}{hint}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one row, got shape {arr.shape}")
    check_finite(arr, name)
    return arr


def as_data(x, name="x"):
    """Return ``x`` as a finite float64 array of shape ``(n, d)`` for any ``d >= 1``.

    For functions that take a data set whose dimension they learn from it (fitting,
    closed-form estimates); ``ValueError`` naming the expected shape otherwise.
    """
    arr = as_real(x, name)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"{name}: expected data of shape (n, d), got shape {arr.shape}")
    return as_batch(arr, arr.shape[1], name)


def as_vector(a, n, name="input", allow_none=False):
    """Return ``a`` as a finite float64 array of shape ``(n,)`` (``None`` gives zeros when allowed)."""
    if a is None and allow_none:
        return np.zeros(n)
    arr = as_real(a, name)
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected an array of shape ({n},), got shape {arr.shape}")
    check_finite(arr, name)
    return arr


def check_finite(arr, name):
    """Raise ``ValueError`` if ``arr`` holds a NaN or an infinity, saying how many and where."""
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.argwhere(~finite)
        where = ", ".join(str(tuple(int(i) for i in b)) for b in bad[:3])
        more = "" if len(bad) <= 3 else f" and {len(bad) - 3} more"
        raise ValueError(f"{name}: expected finite values, found {len(bad)} non-finite "
                         f"entr{'y' if len(bad) == 1 else 'ies'} at index {where}{more}")


def check_finite_result(where, arrays, why):
    """Return ``arrays`` if every one is finite, else raise ``ValueError`` saying that the
    result of ``where`` is not finite and ``why`` (what was expected)."""
    for a in arrays:
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{where}: the result is not finite {why}")
    return arrays


def check_dim(dim):
    """Return ``dim`` as a positive ``int`` or raise ``ValueError``."""
    return as_int(dim, "dim", minimum=1)


def as_rng(random_state):
    """Turn ``None``, an int seed or a ``numpy.random.Generator`` into a Generator.

    The global ``numpy.random`` state is never used.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, (bool, np.bool_)):
        if random_state < 0:
            raise ValueError(f"random_state: expected a non-negative int seed, got {random_state}")
        return np.random.default_rng(random_state)
    raise ValueError("random_state: expected None, an int seed or a numpy.random.Generator, "
                     f"got {type(random_state).__name__}")
