"""Simulcast layer selection for one subscriber's video down-track.

:meth:`LayerSelector.update` turns the inputs (each layer's measured bitrate and liveness, the
subscriber's bandwidth estimate, the client's ceiling and bandwidth limit) into a *target*
layer, with hysteresis: down at once when the current target no longer fits the budget, up only
when a higher layer fits with ``up_margin`` to spare for ``up_hold`` seconds, never to a dead
layer. The forwarded (*current*) layer changes only at a keyframe of the target layer:
:meth:`LayerSelector.route` decides per packet, and :attr:`LayerSelector.needs_keyframe` tells
the down-track to ask the target layer's publisher for one.

Within the current layer, temporal layers above ``target_temporal`` are dropped when even the
lowest layer exceeds the budget (needs the temporal id, e.g. VP8/VP9 descriptors, and
per-temporal-layer bitrates). Temporal changes happen at frame starts; going up waits for a
layer-sync frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["ALL_TEMPORAL", "DROP", "FORWARD", "SKIP", "SWITCH", "LayerSelector"]

DROP = 0  # not from the forwarded layer: ignore it (it is another source stream)
SKIP = 1  # from the forwarded layer, dropped on purpose: tell SequenceRewriter.skip
FORWARD = 2  # forward it
SWITCH = 3  # the target layer's keyframe: switch the SequenceRewriter's source, then forward

ALL_TEMPORAL = 7  # no temporal layer is dropped (temporal ids have 3 bits at most)


class LayerSelector:
    """Picks and switches the simulcast layer (0 = lowest) one subscriber receives."""

    __slots__ = (
        "_bandwidth_limit",
        "_count",
        "_current",
        "_current_temporal",
        "_max_layer",
        "_target",
        "_target_temporal",
        "_up_hold",
        "_up_margin",
        "_up_since",
    )

    def __init__(self, layer_count: int, *, up_margin: float = 0.2, up_hold: float = 2.0) -> None:
        if layer_count < 1:
            raise ValueError("a simulcast track has at least one layer")
        self._count = layer_count
        self._up_margin = up_margin
        self._up_hold = up_hold
        self._up_since: float | None = None
        self._max_layer: int | None = None
        self._bandwidth_limit: float | None = None
        self._target: int | None = None
        self._current: int | None = None
        self._target_temporal = ALL_TEMPORAL
        self._current_temporal = ALL_TEMPORAL

    @property
    def target(self) -> int | None:
        """The layer the selector wants to forward (None: no layer is alive)."""
        return self._target

    @property
    def current(self) -> int | None:
        """The layer being forwarded (None before the first keyframe)."""
        return self._current

    @property
    def target_temporal(self) -> int:
        """Highest temporal id wanted in the current layer (ALL_TEMPORAL: no limit)."""
        return self._target_temporal

    @property
    def current_temporal(self) -> int:
        """Highest temporal id being forwarded."""
        return self._current_temporal

    @property
    def needs_keyframe(self) -> bool:
        """The target differs from the forwarded layer: request a keyframe of the target."""
        return self._target is not None and self._target != self._current

    def set_max_layer(self, layer: int | None) -> None:
        """The client's ceiling (``layer-switch {targetRid}``); None lifts it."""
        self._max_layer = layer
        self._up_since = -math.inf  # a client's wish skips the up-switch hold

    def set_bandwidth_limit(self, bps: float | None) -> None:
        """The client's ``set-bandwidth-limit``; None or 0 lifts it."""
        self._bandwidth_limit = bps or None
        self._up_since = -math.inf

    def update(
        self,
        now: float,
        available_bps: float,
        bitrates: Sequence[float],
        alive: Sequence[bool],
        temporal_bitrates: Sequence[Sequence[float]] | None = None,
    ) -> int | None:
        """Recompute and return the target layer.

        `bitrates[i]`/`alive[i]`: layer i's measured bitrate (0 = not measured yet, fits any
        budget) and whether its packets arrive. `temporal_bitrates[i][t]`: layer i's bitrate
        counting temporal ids 0..t.
        """
        budget = available_bps
        if self._bandwidth_limit is not None:
            budget = min(budget, self._bandwidth_limit)
        ceiling = self._count - 1 if self._max_layer is None else self._max_layer
        candidates = [i for i in range(min(ceiling + 1, self._count)) if alive[i]]
        if not candidates:
            lowest = next((i for i in range(self._count) if alive[i]), None)
            if lowest is None:
                self._target = None
                self._up_since = None
                return None
            candidates = [lowest]
        fit = candidates[0]
        fit_up = -1
        for i in candidates:
            if bitrates[i] <= budget:
                fit = i
            if bitrates[i] * (1.0 + self._up_margin) <= budget:
                fit_up = i
        target = self._target
        if target is None or target not in candidates or fit < target:
            self._target = fit
            self._up_since = None
        elif fit_up > target:
            if self._up_since is None:
                self._up_since = now
            if now - self._up_since >= self._up_hold:
                self._target = fit_up
                self._up_since = None
        else:
            self._up_since = None
        self._target_temporal = self._pick_temporal(budget, bitrates, temporal_bitrates)
        return self._target

    def _pick_temporal(
        self,
        budget: float,
        bitrates: Sequence[float],
        temporal_bitrates: Sequence[Sequence[float]] | None,
    ) -> int:
        layer = self._current if self._current is not None else self._target
        if layer is None or temporal_bitrates is None:
            return ALL_TEMPORAL
        up = 1.0 + self._up_margin
        full = bitrates[layer] if self._target_temporal == ALL_TEMPORAL else bitrates[layer] * up
        if full <= budget:
            return ALL_TEMPORAL
        rates = temporal_bitrates[layer]
        keep = 0
        for tid in range(1, len(rates)):
            need = rates[tid] if tid <= self._target_temporal else rates[tid] * up
            if need <= budget:
                keep = tid
        return ALL_TEMPORAL if keep >= len(rates) - 1 else keep

    def route(
        self,
        layer: int,
        keyframe: bool,
        frame_start: bool,
        temporal_id: int | None,
        layer_sync: bool,
    ) -> int:
        """What to do with one received packet of `layer`: DROP, SKIP, FORWARD or SWITCH."""
        if layer != self._current:
            if layer == self._target and keyframe:
                self._current = layer
                self._current_temporal = self._target_temporal
                return SWITCH
            return DROP
        if temporal_id is None:
            return FORWARD
        if frame_start:
            wanted = self._target_temporal
            if wanted < self._current_temporal:
                self._current_temporal = wanted
            elif temporal_id > self._current_temporal and temporal_id <= wanted and layer_sync:
                self._current_temporal = temporal_id
        return FORWARD if temporal_id <= self._current_temporal else SKIP
