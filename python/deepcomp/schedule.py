"""Iterative pruning as in the paper: prune, retrain, prune harder — one call per epoch."""
from typing import Dict, Optional

import torch

from . import _C
from ._layers import Exclude
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
    Per-layer dicts are scheduled layer by layer. state_dict()/load_state_dict() resume a run. The
    ramp and the state are C++'s (deepcomp/schedule.h: PruningTimetable).
    """

    def __init__(self, model: torch.nn.Module, *, sensitivity: Optional[LayerValues] = None,
                 sparsity: Optional[LayerValues] = None, steps: int = 4, every: int = 1, start: int = 0,
                 layers=None, exclude: Exclude = None):
        if (sensitivity is None) == (sparsity is None):
            raise ValueError("PruningSchedule: pass exactly one of sensitivity= or sparsity=")
        for name, value in (("steps", steps), ("every", every), ("start", start)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"PruningSchedule: {name} must be an int >= {int(name != 'start')}, got {value!r}")
        self.model = model
        self.criterion = "sensitivity" if sparsity is None else "sparsity"
        self.layers = None if layers is None else list(layers)
        self.exclude = exclude
        self._timetable = _C.PruningTimetable(self.criterion, sensitivity if sparsity is None else sparsity,
                                              steps, every, start)

    @property
    def epoch(self) -> int:
        return self._timetable.epoch

    @property
    def rounds_done(self) -> int:
        return self._timetable.rounds_done

    @property
    def done(self) -> bool:
        return self._timetable.done

    def target(self, round_index: int) -> LayerValues:
        """The criterion's value(s) for round round_index (1..steps)."""
        return self._timetable.target(round_index)

    def step(self) -> Optional[PruneReport]:
        """Ends an epoch; prunes if a round falls on it and returns that round's report."""
        round_index = self._timetable.next_epoch()
        if round_index is None:
            return None
        return prune(self.model, **{self.criterion: self.target(round_index)}, layers=self.layers,
                     exclude=self.exclude)

    def state_dict(self) -> Dict[str, int]:
        return {"epoch": self.epoch, "rounds_done": self.rounds_done}

    def load_state_dict(self, state: Dict[str, int]) -> None:
        """Resumes a run; raises ValueError for a state this schedule cannot have reached."""
        if not isinstance(state, dict) or set(state) != {"epoch", "rounds_done"}:
            raise ValueError(f"PruningSchedule.load_state_dict needs {{'epoch': int, 'rounds_done': int}}, got {state!r}")
        self._timetable.restore(int(state["epoch"]), int(state["rounds_done"]))
