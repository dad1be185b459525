"""Iterative pruning as in the paper: prune, retrain, prune harder — one call per epoch."""
from typing import Dict, Iterable, Optional

import torch

from .prune import LayerValues, PruneReport, prune


class PruningSchedule:
    """Prunes `model` in `steps` rounds toward a final sparsity or sensitivity, retraining between.

    Call step() once at the end of every epoch; it prunes at epochs start, start + every, ...,
    (steps rounds in all) and returns that round's PruneReport, or None on the other epochs::

        schedule = deepcomp.PruningSchedule(model, sparsity=0.92, steps=4, every=2)
        for epoch in range(epochs):
            train_one_epoch(model, optimizer)
            report = schedule.step()

    Round i of n (1-based) asks for
      sparsity:    1 − (1 − s)^(i/n) — each round drops the same share of the surviving weights;
      sensitivity: s × i/n            — the threshold (× std of the survivors) rises linearly.
    Per-layer dicts are scheduled layer by layer. state_dict()/load_state_dict() resume a run.
    """

    def __init__(self, model: torch.nn.Module, *, sensitivity: Optional[LayerValues] = None,
                 sparsity: Optional[LayerValues] = None, steps: int = 4, every: int = 1, start: int = 0,
                 layers: Optional[Iterable[str]] = None):
        if (sensitivity is None) == (sparsity is None):
            raise ValueError("PruningSchedule: pass exactly one of sensitivity= or sparsity=")
        for name, value in (("steps", steps), ("every", every)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"PruningSchedule: {name} must be an int >= 1, got {value!r}")
        if not isinstance(start, int) or start < 0:
            raise ValueError(f"PruningSchedule: start must be an int >= 0, got {start!r}")
        self.model = model
        self.criterion = "sensitivity" if sparsity is None else "sparsity"
        self.final = sensitivity if sparsity is None else sparsity
        self.steps, self.every, self.start = steps, every, start
        self.layers = None if layers is None else list(layers)
        self.epoch = 0
        self.rounds_done = 0

    @property
    def done(self) -> bool:
        return self.rounds_done >= self.steps

    def target(self, round_index: int) -> LayerValues:
        """The criterion's value(s) for round round_index (1..steps)."""
        fraction = round_index / self.steps
        if self.criterion == "sparsity":
            ramp = lambda s: 1.0 - (1.0 - s) ** fraction  # noqa: E731
        else:
            ramp = lambda s: s * fraction  # noqa: E731
        if isinstance(self.final, dict):
            return {name: ramp(value) for name, value in self.final.items()}
        return ramp(self.final)

    def step(self) -> Optional[PruneReport]:
        """Ends an epoch; prunes if a round falls on it and returns that round's report."""
        epoch, self.epoch = self.epoch, self.epoch + 1
        due = epoch >= self.start and (epoch - self.start) % self.every == 0
        if self.done or not due:
            return None
        self.rounds_done += 1
        return prune(self.model, **{self.criterion: self.target(self.rounds_done)}, layers=self.layers)

    def state_dict(self) -> Dict[str, int]:
        return {"epoch": self.epoch, "rounds_done": self.rounds_done}

    def load_state_dict(self, state: Dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.rounds_done = int(state["rounds_done"])
