"""Searchers (``overtone.tune.search``), with the search space's domains re-exported from
:mod:`overtone.space` (``tune.uniform`` & co.)."""

from overtone.search._base import Searcher
from overtone.search._basic_variant import BasicVariantGenerator
from overtone.search._concurrency import ConcurrencyLimiter
from overtone.search._repeater import Repeater
from overtone.space import (
    Categorical,
    Domain,
    Float,
    Function,
    Integer,
    Normal,
    choice,
    grid_search,
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
    "BasicVariantGenerator",
    "Categorical",
    "ConcurrencyLimiter",
    "Domain",
    "Float",
    "Function",
    "Integer",
    "Normal",
    "Repeater",
    "Searcher",
    "choice",
    "grid_search",
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
