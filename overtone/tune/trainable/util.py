"""``overtone.tune.trainable.util``: ``with_parameters`` and ``with_resources``, as in Ray."""

from overtone.runtime import with_parameters, with_resources

__all__ = ["with_parameters", "with_resources"]
