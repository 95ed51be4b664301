"""Encoder profiles: which slice of an elastic (2DMSE) model runs, with what attention temperature.

A profile is fixed when a collection is created and stored with it, so vectors stay comparable.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from embedsvc.errors import InvalidArgument

PRECISIONS = ("fp32", "bf16")
MAX_TEMPSCALE = 2.0
# CPU flags that mean bf16 matrix multiplies run in hardware instead of being emulated.
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class EncoderProfile:
    """How to run the model. ``None`` means the model's full depth or width.

    ``tempscale`` is the TempScale attention temperature: logits are divided by it (1 = off).
    """

    layers: int | None = None
    dimensions: int | None = None
    tempscale: float = 1.0
    precision: str = "fp32"

    @classmethod
    def default(cls) -> EncoderProfile:
        """The plain model (all layers, all dims, tau 1) at the precision this CPU runs best."""
        return cls(precision=default_precision())

    def validate(self, model_layers: int, model_dims: int) -> None:
        """Refuse values the model cannot serve, saying what the valid range is."""
        _check_range("layers", self.layers, model_layers, "the model's depth")
        _check_range("dimensions", self.dimensions, model_dims, "the model's width")
        tau = self.tempscale
        if (
            isinstance(tau, bool)
            or not isinstance(tau, int | float)
            or not math.isfinite(tau)
            or not 0 < tau <= MAX_TEMPSCALE
        ):
            raise InvalidArgument(
                f"tempscale must be a number in (0, {MAX_TEMPSCALE:g}] (1 = off, below 1 sharpens "
                f"attention for long texts), got {tau!r}"
            )
        if self.precision not in PRECISIONS:
            raise InvalidArgument(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )

    def resolved(self, model_layers: int, model_dims: int) -> EncoderProfile:
        """The same profile with ``None`` replaced by the model's values, so equal means equal."""
        self.validate(model_layers, model_dims)
        return replace(
            self,
            layers=model_layers if self.layers is None else self.layers,
            dimensions=model_dims if self.dimensions is None else self.dimensions,
            tempscale=float(self.tempscale),
        )

    def key(self) -> str:
        """Stable cache key such as ``L6-D384-T1.0-fp32``; resolve first for a canonical one."""
        layers = "*" if self.layers is None else self.layers
        dims = "*" if self.dimensions is None else self.dimensions
        return f"L{layers}-D{dims}-T{float(self.tempscale)!r}-{self.precision}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncoderProfile:
        """Read a stored profile; unknown keys are an error rather than silently dropped."""
        unknown = set(data) - {field.name for field in fields(cls)}
        if unknown:
            raise InvalidArgument(f"unknown encoder profile fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    def query_compatible(self, collection: EncoderProfile, model_dims: int) -> bool:
        """Whether vectors of this (query) profile can be searched against ``collection``'s.

        Vectors live in one space only at the same width; depth, tempscale and precision change
        the vectors a little but not the space, so a query may trade them for speed. The model
        itself is checked by the caller (its fingerprint is stored with the collection).
        """
        return (self.dimensions or model_dims) == (collection.dimensions or model_dims)


def _check_range(name: str, value: int | None, limit: int, what: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise InvalidArgument(f"{name} must be between 1 and {limit} ({what}), got {value!r}")


@functools.cache
def default_precision() -> str:
    """"bf16" where the CPU computes it natively (1.2-1.7x faster, cosine >= 0.9999), else fp32.

    Emulated bf16 is slower than fp32, so the flag check matters more than the speed-up.
    """
    import torch

    if "AMX" in torch.backends.cpu.get_cpu_capability().upper():
        return "bf16"
    return "bf16" if _cpu_flags() & set(_BF16_CPU_FLAGS) else "fp32"


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The flags of the first CPU in /proc/cpuinfo; empty where there is none (not Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()
