"""``overtone.tune.search.basic_variant``: random and grid search, as in Ray."""

from overtone.search import BasicVariantGenerator

__all__ = ["BasicVariantGenerator"]
