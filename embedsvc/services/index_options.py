"""A new collection's vector index: its type and parameters, the request's over the settings'
defaults, checked once and stored with the collection."""

from __future__ import annotations

from collections.abc import Mapping

from embedsvc.config import Settings
from embedsvc.errors import InvalidArgument
from embedsvc.types import INDEX_PARAMS, INDEX_TYPES, choice

# The smallest value each parameter takes (ivf nlist 0 = chosen from the size when trained).
MINIMUMS = {"m": 4, "ef_construction": 8, "ef_search": 1, "nlist": 0, "nprobe": 1,
            "train_size": 1}
# Beyond these a build or search costs more than any recall gain (or memory a request
# should never be able to ask for).
MAXIMUMS = {"m": 256, "ef_construction": 4096, "ef_search": 4096, "nlist": 1 << 20}


def index_options(
    settings: Settings, index: str = "", params: Mapping[str, int] | None = None
) -> tuple[str, dict[str, int]]:
    """The index type ('' = the settings' default) and its complete parameters."""
    index = choice("index", index or settings.faiss_index, INDEX_TYPES)
    given = dict(params or {})
    allowed = INDEX_PARAMS[index]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no parameters"
        raise InvalidArgument(
            f"index {index!r} takes {takes}; got {', '.join(unknown)}", "index_params"
        )
    resolved = {**settings.index_params(index), **given}
    for name, value in resolved.items():
        low, high = MINIMUMS[name], MAXIMUMS.get(name, 2**31 - 1)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise InvalidArgument(
                f"index_params {name} must be an integer between {low} and {high}, "
                f"got {value!r}", "index_params",
            )
    return index, resolved
