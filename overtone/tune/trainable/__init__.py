"""``overtone.tune.trainable``: the class API and its wrappers, as ``ray.tune.trainable``."""

from overtone.runtime import Trainable, with_parameters, with_resources

__all__ = ["Trainable", "with_parameters", "with_resources"]
