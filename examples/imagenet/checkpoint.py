"""Run checkpoints that survive being killed at any moment: written whole or not at all."""
import random

import torch
from deepcomp import open_atomically


def save_atomically(state: dict, path: str) -> None:
    """torch.save streamed into a file that appears at path whole, or not at all."""
    with open_atomically(path) as file:
        torch.save(state, file)


def load(path: str) -> dict:
    """A checkpoint written by save_atomically; SystemExit with one line if it is not one."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types for a damaged or foreign file
        raise SystemExit(f"error: cannot read checkpoint {path!r}: {error}") from None


def rng_state() -> dict:
    """This process's random generators: what a resumed run must restore to draw the same numbers."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
