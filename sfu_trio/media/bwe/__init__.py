"""Bandwidth estimators behind one interface, chosen by name (like aioquic's congestion
control registry)."""

from __future__ import annotations

from sfu_trio.media.bwe.base import BandwidthEstimator, EstimatorStatistics
from sfu_trio.media.bwe.remb_estimator import RembEstimator
from sfu_trio.media.bwe.twcc_estimator import TwccEstimator

__all__ = [
    "ESTIMATORS",
    "BandwidthEstimator",
    "EstimatorStatistics",
    "RembEstimator",
    "TwccEstimator",
    "create_estimator",
    "register_estimator",
]

ESTIMATORS: dict[str, type[BandwidthEstimator]] = {
    TwccEstimator.name: TwccEstimator,
    RembEstimator.name: RembEstimator,
}


def register_estimator(cls: type[BandwidthEstimator]) -> None:
    """Make ``cls`` available to :func:`create_estimator` under ``cls.name``."""
    ESTIMATORS[cls.name] = cls


def create_estimator(
    name: str, initial_bps: int, *, min_bps: int = 30_000, max_bps: int = 20_000_000
) -> BandwidthEstimator:
    """A new estimator of the kind registered as ``name``."""
    try:
        cls = ESTIMATORS[name]
    except KeyError:
        raise ValueError(f"unknown bandwidth estimator {name!r}") from None
    return cls(initial_bps, min_bps=min_bps, max_bps=max_bps)
