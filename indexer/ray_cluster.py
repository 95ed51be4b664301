"""Where `indexer index --ray` runs: a Ray cluster by address, or a local instance that listens
on 127.0.0.1 only (its GCS, raylet and workers; no dashboard), so nothing is exposed to the
network by an indexing run."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from embedsvc.errors import FailedPrecondition

LOCAL = "local"  # Ray's own name for "start a new instance here"
LOOPBACK = "127.0.0.1"
# Ray resolves 127.0.0.1 to the machine's routable address unless clustering is off; read by
# Ray at import, so set before the import, and inherited by the processes the instance starts.
_LOOPBACK_ONLY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
_QUIET_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}  # never report usage anywhere


class RayUnavailable(FailedPrecondition):
    """Ray is not installed, or the cluster cannot be reached or started."""


def require_ray() -> None:
    """Fail early, before the walk, if Ray is missing (found without importing it: a local
    instance must be configured before the import)."""
    if importlib.util.find_spec("ray") is None:
        raise RayUnavailable("--ray needs Ray, which is not installed: pip install 'embedsvc[ray]'")


@contextmanager
def ray_session(address: str, cpus: int = 0) -> Iterator[Any]:
    """Ray, connected to ``address`` (``local``: a new instance on 127.0.0.1 with ``cpus``
    logical CPUs, 0 = this machine's), shut down when done."""
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    local = address == LOCAL
    if local:
        if "ray" in sys.modules and os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") != "0":
            raise RayUnavailable(
                "Ray was imported before a local instance could be bound to 127.0.0.1; "
                "start it with ray_session before importing ray"
            )
        os.environ.update(_LOOPBACK_ONLY_ENV)
    require_ray()
    import ray
    import ray.data
    options: dict[str, Any] = {
        "log_to_driver": False,  # workers' output would land on our stdout, which is JSON's
        "logging_level": logging.WARNING,
    }
    if local:
        options.update(address=LOCAL, _node_ip_address=LOOPBACK, include_dashboard=False,
                       num_cpus=cpus or os.cpu_count() or 1)
    else:
        options.update(address=address)
    try:
        context = ray.init(**options)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise RayUnavailable(f"cannot {'start' if local else 'reach'} Ray at {address}: "
                             f"{error}") from None
    try:
        if local and context.address_info["node_ip_address"] != LOOPBACK:
            raise RayUnavailable(
                f"the local Ray instance listens on {context.address_info['node_ip_address']}, "
                "not 127.0.0.1 only; refusing to run on it"
            )
        yield ray
    finally:
        ray.shutdown()
