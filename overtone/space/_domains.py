"""The search space's domains: the ``tune.uniform``-style domains and ``grid_search``.

Every domain samples with an explicit :class:`numpy.random.Generator` and returns plain
Python values (``int``, ``float`` or the category itself), never numpy scalars::

    >>> import numpy as np
    >>> lr = loguniform(1e-4, 1e-1)
    >>> 1e-4 <= lr.sample(np.random.default_rng(0)) <= 1e-1
    True
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported when a domain samples: a grid search never needs it
    import numpy as np

# Slack for float bounds that are meant to be multiples of q (0.3 / 0.1 == 2.9999999999999996).
_EPS = 1e-9


def _number(name: str, what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} {what} is {value!r}, but must be a finite number")
    return float(value)


def _integer(name: str, what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} {what} is {value!r}, but must be an integer")
    return int(value)


def _positive(name: str, what: str, value: float, original: Any) -> None:
    if value <= 0:
        raise ValueError(f"{name} {what} is {original!r}, but must be > 0")


def _check_base(name: str, base: Any) -> float:
    b = _number(name, "base", base)
    if b <= 0 or b == 1:
        raise ValueError(f"{name} base is {base!r}, but must be > 0 and != 1")
    return b


class Domain:
    """A distribution one hyperparameter is sampled from.

    Attributes:
        name: the function that made it (``"uniform"``, ``"qrandint"``, ...), used in messages.
    """

    name: str = "domain"

    def sample(self, rng: np.random.Generator, spec: Any = None) -> Any:
        """Draw one value using ``rng``; ``spec`` is only used by :class:`Function`."""
        raise NotImplementedError

    def is_valid(self, value: Any) -> bool:
        """Whether ``value`` is one this domain could produce."""
        raise NotImplementedError

    def is_function(self) -> bool:
        return False

    @property
    def domain_str(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.domain_str}>"


class Float(Domain):
    """A float drawn uniformly (``log=False``) or log-uniformly in ``[lower, upper]``.

    With ``q`` set, values are rounded to multiples of ``q`` (``round(x / q) * q``) that lie in
    the range; :attr:`low` and :attr:`high` are the smallest and largest possible values.
    """

    def __init__(
        self,
        lower: float,
        upper: float,
        *,
        log: bool = False,
        base: float = 10,
        q: float | None = None,
        name: str = "uniform",
    ) -> None:
        self.name = name
        self.lower = _number(name, "lower", lower)
        self.upper = _number(name, "upper", upper)
        self.log = log
        self.base = _check_base(name, base) if log else float(base)
        self.q = None if q is None else _number(name, "q", q)
        if log:
            _positive(name, "lower", self.lower, lower)
        if self.q is not None:
            _positive(name, "q", self.q, q)
        if self.lower >= self.upper:
            raise ValueError(f"{name} lower ({lower!r}) must be < upper ({upper!r})")
        self.low, self.high = self.lower, self.upper
        if self.q is not None:
            k_lo = math.ceil(self.lower / self.q - _EPS)
            k_hi = math.floor(self.upper / self.q + _EPS)
            if k_lo > k_hi:
                raise ValueError(
                    f"{name} has no multiple of q ({q!r}) between lower ({lower!r}) "
                    f"and upper ({upper!r})"
                )
            self.low = min(max(k_lo * self.q, self.lower), self.upper)
            self.high = min(max(k_hi * self.q, self.lower), self.upper)

    def sample(self, rng: np.random.Generator, spec: Any = None) -> float:
        if self.log:
            x = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            x = rng.uniform(self.low, self.high)
        if self.q is not None:
            x = _round(x / self.q) * self.q
        return float(min(max(x, self.low), self.high))

    def is_valid(self, value: Any) -> bool:
        if not isinstance(value, numbers.Real) or not self.lower <= value <= self.upper:
            return False
        return self.q is None or abs(value / self.q - round(value / self.q)) < 1e-6

    @property
    def domain_str(self) -> str:
        args = [repr(self.lower), repr(self.upper)]
        if self.q is not None:
            args.append(f"q={self.q!r}")
        if self.log:
            args.append(f"base={self.base:g}")
        return f"{self.name}({', '.join(args)})"


class Normal(Domain):
    """A float drawn from a normal distribution, optionally rounded to multiples of ``q``."""

    def __init__(
        self, mean: float = 0.0, sd: float = 1.0, *, q: float | None = None, name: str = "randn"
    ) -> None:
        self.name = name
        self.mean = _number(name, "mean", mean)
        self.sd = _number(name, "sd", sd)
        _positive(name, "sd", self.sd, sd)
        self.q = None if q is None else _number(name, "q", q)
        if self.q is not None:
            _positive(name, "q", self.q, q)

    def sample(self, rng: np.random.Generator, spec: Any = None) -> float:
        x = rng.normal(self.mean, self.sd)
        if self.q is not None:
            x = _round(x / self.q) * self.q
        return float(x)

    def is_valid(self, value: Any) -> bool:
        if not isinstance(value, numbers.Real):
            return False
        return self.q is None or abs(value / self.q - round(value / self.q)) < 1e-6

    @property
    def domain_str(self) -> str:
        q = "" if self.q is None else f", q={self.q!r}"
        return f"{self.name}({self.mean!r}, {self.sd!r}{q})"


class Integer(Domain):
    """An integer drawn uniformly or log-uniformly from ``lower`` to ``upper``.

    ``upper`` is excluded unless ``inclusive`` (``randint`` excludes it, ``qrandint`` includes
    it, as in Ray). With ``q > 1`` only multiples of ``q`` come out; :attr:`low` and
    :attr:`high` are the smallest and largest possible values (both inclusive).
    """

    def __init__(
        self,
        lower: int,
        upper: int,
        *,
        inclusive: bool = False,
        log: bool = False,
        base: float = 10,
        q: int = 1,
        name: str = "randint",
    ) -> None:
        self.name = name
        self.lower = _integer(name, "lower", lower)
        self.upper = _integer(name, "upper", upper)
        self.inclusive = inclusive
        self.log = log
        self.base = _check_base(name, base) if log else float(base)
        self.q = _integer(name, "q", q)
        _positive(name, "q", self.q, q)
        if log:
            _positive(name, "lower", self.lower, lower)
        if inclusive and self.lower > self.upper:
            raise ValueError(f"{name} lower ({lower!r}) must be <= upper ({upper!r})")
        if not inclusive and self.lower >= self.upper:
            raise ValueError(f"{name} lower ({lower!r}) must be < upper ({upper!r})")
        last = self.upper if inclusive else self.upper - 1
        self._k_lo, self._k_hi = -(-self.lower // self.q), last // self.q
        if self._k_lo > self._k_hi:
            raise ValueError(
                f"{name} has no multiple of q ({q!r}) between lower ({lower!r}) "
                f"and upper ({upper!r})"
            )
        self.low, self.high = self._k_lo * self.q, self._k_hi * self.q

    def sample(self, rng: np.random.Generator, spec: Any = None) -> int:
        if not self.log:
            return int(rng.integers(self._k_lo, self._k_hi + 1)) * self.q
        if self.q == 1:
            # floor of a log-uniform float in [low, high + 1): each integer gets its log-width.
            x = math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1)))
            return min(max(int(math.floor(x)), self.low), self.high)
        x = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        k = int(_round(x / self.q))
        return min(max(k, self._k_lo), self._k_hi) * self.q

    def is_valid(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return False
        return self.low <= value <= self.high and value % self.q == 0

    @property
    def domain_str(self) -> str:
        args = [repr(self.lower), repr(self.upper)]
        if self.q != 1:
            args.append(f"q={self.q!r}")
        if self.log:
            args.append(f"base={self.base:g}")
        return f"{self.name}({', '.join(args)})"


class Categorical(Domain):
    """One of a list of categories, each equally likely."""

    def __init__(self, categories: Iterable[Any], *, name: str = "choice") -> None:
        self.name = name
        if isinstance(categories, (str, bytes)) or not isinstance(categories, Iterable):
            raise ValueError(f"{name} categories is {categories!r}, but must be a list")
        self.categories = list(categories)
        if not self.categories:
            raise ValueError(f"{name} categories are empty, but at least one is needed")

    def sample(self, rng: np.random.Generator, spec: Any = None) -> Any:
        return self.categories[int(rng.integers(len(self.categories)))]

    def is_valid(self, value: Any) -> bool:
        return any(value is c or value == c for c in self.categories)

    @property
    def domain_str(self) -> str:
        return f"{self.name}({self.categories!r})"


class Function(Domain):
    """A value computed by ``func(spec)`` (or ``func()``) from the rest of the config."""

    def __init__(self, func: Callable[..., Any], *, name: str = "sample_from") -> None:
        self.name = name
        if not callable(func):
            raise ValueError(f"{name} func is {func!r}, but must be callable")
        self.func = func
        self.pass_spec = _takes_one_argument(func)

    def sample(self, rng: np.random.Generator, spec: Any = None) -> Any:
        return self.func(spec) if self.pass_spec else self.func()

    def is_valid(self, value: Any) -> bool:
        return True

    def is_function(self) -> bool:
        return True

    @property
    def domain_str(self) -> str:
        return f"{self.name}({getattr(self.func, '__qualname__', repr(self.func))})"


def _round(x: float) -> Any:
    import numpy as np

    return np.round(x)


def _takes_one_argument(func: Callable[..., Any]) -> bool:
    import inspect

    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins have no signature: assume they take spec
        return True
    try:
        sig.bind(None)
        return True
    except TypeError:
        return False


def uniform(lower: float, upper: float) -> Float:
    """A float uniformly in ``[lower, upper]``."""
    return Float(lower, upper, name="uniform")


def quniform(lower: float, upper: float, q: float) -> Float:
    """A uniform float rounded to a multiple of ``q`` within ``[lower, upper]``."""
    return Float(lower, upper, q=q, name="quniform")


def loguniform(lower: float, upper: float, base: float = 10) -> Float:
    """A float whose logarithm is uniform in ``[log(lower), log(upper)]``; needs ``lower > 0``."""
    return Float(lower, upper, log=True, base=base, name="loguniform")


def qloguniform(lower: float, upper: float, q: float, base: float = 10) -> Float:
    """A log-uniform float rounded to a multiple of ``q`` within ``[lower, upper]``."""
    return Float(lower, upper, log=True, base=base, q=q, name="qloguniform")


def randn(mean: float = 0.0, sd: float = 1.0) -> Normal:
    """A normally distributed float."""
    return Normal(mean, sd, name="randn")


def qrandn(mean: float, sd: float, q: float) -> Normal:
    """A normally distributed float rounded to a multiple of ``q``."""
    return Normal(mean, sd, q=q, name="qrandn")


def randint(lower: int, upper: int) -> Integer:
    """An integer uniformly in ``[lower, upper)`` (``upper`` excluded, as in Ray)."""
    return Integer(lower, upper, name="randint")


def qrandint(lower: int, upper: int, q: int = 1) -> Integer:
    """A multiple of ``q`` uniformly in ``[lower, upper]`` (``upper`` included, as in Ray)."""
    return Integer(lower, upper, inclusive=True, q=q, name="qrandint")


def lograndint(lower: int, upper: int, base: float = 10) -> Integer:
    """A log-uniform integer in ``[lower, upper)``; needs ``lower > 0``."""
    return Integer(lower, upper, log=True, base=base, name="lograndint")


def qlograndint(lower: int, upper: int, q: int, base: float = 10) -> Integer:
    """A log-uniform multiple of ``q`` in ``[lower, upper]`` (``upper`` included)."""
    return Integer(lower, upper, inclusive=True, log=True, base=base, q=q, name="qlograndint")


def choice(categories: Iterable[Any]) -> Categorical:
    """One of ``categories``, each equally likely."""
    return Categorical(categories, name="choice")


def sample_from(func: Callable[..., Any]) -> Function:
    """A value computed as ``func(spec)``, where ``spec.config`` is the rest of the config."""
    return Function(func, name="sample_from")


def grid_search(values: Iterable[Any]) -> dict[str, list[Any]]:
    """Try every one of ``values``: ``{"grid_search": [...]}``, as in Ray."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"grid_search values is {values!r}, but must be a list of values")
    listed = list(values)
    if not listed:
        raise ValueError("grid_search values are empty, but at least one is needed")
    return {"grid_search": listed}


def is_grid_search(value: Any) -> bool:
    """Whether ``value`` is a ``{"grid_search": ...}`` entry."""
    return isinstance(value, dict) and len(value) == 1 and "grid_search" in value
