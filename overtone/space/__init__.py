"""The search space: the domains that ``tune.uniform`` & co. return, ``grid_search``, and the
expansion of a param space into concrete configs (``_variants``).

It depends on nothing else in Overtone, so searchers, schedulers (PBT's mutations) and the
controller all build on it. ``overtone.search`` and ``overtone.tune`` re-export its names.
"""

from overtone.space._domains import (
    Categorical,
    Domain,
    Float,
    Function,
    Integer,
    Normal,
    choice,
    grid_search,
    is_grid_search,
    lograndint,
    loguniform,
    qlograndint,
    qloguniform,
    qrandint,
    qrandn,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)

__all__ = [
    "Categorical",
    "Domain",
    "Float",
    "Function",
    "Integer",
    "Normal",
    "choice",
    "grid_search",
    "is_grid_search",
    "lograndint",
    "loguniform",
    "qlograndint",
    "qloguniform",
    "qrandint",
    "qrandn",
    "quniform",
    "randint",
    "randn",
    "sample_from",
    "uniform",
]
