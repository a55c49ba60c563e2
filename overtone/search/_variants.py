"""Moved to :mod:`overtone.space._variants`; this name stays for the imports that still use it."""

from overtone.space._variants import (
    Path,
    count_grid_variants,
    format_vars,
    generate_variants,
    path_str,
    unresolved_paths,
    validate_space,
)

__all__ = [
    "Path",
    "count_grid_variants",
    "format_vars",
    "generate_variants",
    "path_str",
    "unresolved_paths",
    "validate_space",
]
