"""The default encoder profile: the plain model at the precision this CPU runs best.

`EncoderProfile` itself is plain data (`embedsvc.types`), stored with every collection; what a
CPU supports is a fact about the runtime, so it lives here.
"""

from __future__ import annotations

import functools
from pathlib import Path

from embedsvc.types import EncoderProfile

# CPU flags that mean bf16 matrix multiplies run in hardware instead of being emulated.
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def default_profile() -> EncoderProfile:
    """All layers, all dims, tau 1, at the precision this CPU runs best."""
    return EncoderProfile(precision=default_precision())


@functools.cache
def default_precision() -> str:
    """"bf16" where the CPU computes it natively (1.2-1.7x faster, cosine >= 0.9999), else fp32.

    Emulated bf16 is slower than fp32, so the flag check matters more than the speed-up. The
    OpenVINO backend further checks the cosine on this CPU (`openvino_backend`).
    """
    return "bf16" if cpu_flags() & set(_BF16_CPU_FLAGS) else "fp32"


@functools.cache
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The flags of the first CPU in /proc/cpuinfo; empty where there is none (not Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()
