"""Run checkpoints that survive being killed at any moment: written whole or not at all."""
import os
import random
from typing import BinaryIO, Callable

import torch


def write_atomically(path: str, write: Callable[[BinaryIO], None]) -> None:
    """write(file) into a temporary file beside path, fsync, then rename over path (atomic on POSIX)
    and fsync the folder: after a crash path holds either the old contents or the new, never part."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    descriptor = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def save_atomically(state: dict, path: str) -> None:
    write_atomically(path, lambda f: torch.save(state, f))


def write_text_atomically(path: str, text: str) -> None:
    write_atomically(path, lambda f: f.write(text.encode()))


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
