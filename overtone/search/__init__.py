"""Searchers and the search space (``overtone.tune.search`` and ``tune.uniform`` & co.)."""

from overtone.search._base import Searcher
from overtone.search._basic_variant import BasicVariantGenerator
from overtone.search._concurrency import ConcurrencyLimiter
from overtone.search._repeater import Repeater
from overtone.search._sample import (
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
