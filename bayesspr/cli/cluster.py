"""The CLI's one switch to Dask: ``--workers N`` (a local cluster) or ``--scheduler ADDRESS``."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from bayesspr.errors import ArgumentError

#: Seconds to wait for a scheduler named by ``--scheduler``.
CONNECT_TIMEOUT_S = 20


#: What the cluster does, by command family (the options' help).
CLUSTER_WORK = {
    "forecast": "draw the forecast's blocks of zips (the same draws as without it)",
    "fit": "hold the table's rows and their likelihood where the fit takes the Laplace "
    "route (the same fit as without it)",
    "backtest": "run each origin and variant (each warm-started variant's origins) as a task "
    "(the same seeds as without it)",
    "cycle": "draw the forecasts' blocks of zips and hold the SPR fit's rows where it takes "
    "the Laplace route (the same results as without it)",
}


def add_cluster_options(p: argparse.ArgumentParser, whole: Any, work: str = "forecast") -> None:
    """``--workers`` and ``--scheduler`` (one or the other); ``work``: a key of CLUSTER_WORK."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--workers",
        type=whole,
        default=None,
        metavar="N",
        help=f"on a local Dask cluster of N worker processes: {CLUSTER_WORK[work]}",
    )
    group.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="on the Dask cluster whose scheduler is at ADDRESS, e.g. tcp://10.0.0.5:8786 "
        f"(Kubernetes, HPC or cloud): {CLUSTER_WORK[work]}",
    )


@contextlib.contextmanager
def dask_client(args: argparse.Namespace) -> Iterator[Any]:
    """A ``distributed.Client`` as ``--workers`` / ``--scheduler`` ask, else None.

    Raises
    ------
    ArgumentError
        If the scheduler at ``--scheduler`` cannot be reached, or Dask's ``distributed`` is
        not installed.
    """
    workers, address = getattr(args, "workers", None), getattr(args, "scheduler", None)
    if not workers and not address:
        yield None
        return
    try:
        import distributed
    except ImportError:
        option = "--scheduler" if address else "--workers"
        raise ArgumentError(
            f"{option} needs Dask's distributed package: pip install 'bayesspr[dask]'"
        ) from None

    with contextlib.ExitStack() as stack:
        if address:
            try:
                client = stack.enter_context(distributed.Client(address, timeout=CONNECT_TIMEOUT_S))
            except (OSError, TimeoutError) as exc:
                raise ArgumentError(
                    f"--scheduler {address}: no Dask scheduler answered within "
                    f"{CONNECT_TIMEOUT_S} s ({exc}); start one ('dask scheduler') or use "
                    "--workers N for a local cluster"
                ) from None
        else:
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, dashboard_address=None
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        yield client
