"""The one way the package writes a file: atomically, through the same C++ writer as deepcomp.save."""
import contextlib
import io
import os
from typing import BinaryIO, Iterator, Union

from . import _C

PathLike = Union[str, os.PathLike]


class _AtomicRaw(io.RawIOBase):
    """The raw stream under open_atomically's buffered writer: each write goes to the C++ file."""

    def __init__(self, file: "_C.AtomicFile"):
        super().__init__()
        self._file = file

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self._file.write(view)
        return len(view)


@contextlib.contextmanager
def open_atomically(path: PathLike) -> Iterator[BinaryIO]:
    """A binary file to write, in as many pieces as needed (torch.save(state, file) streams into it):
    the bytes go to a temporary file beside path, and only when the with-block ends without an
    exception is the file flushed to disk and renamed over path. A reader never sees half a file; on
    an error nothing at path changes and no temporary file is left. New files get the usual
    permissions (0666 less the umask). Raises OSError naming path."""
    atomic = _C.AtomicFile(os.fspath(path))
    try:
        with io.BufferedWriter(_AtomicRaw(atomic)) as file:
            yield file
        atomic.commit()
    finally:
        atomic.discard()  # nothing once committed


def write_atomically(path: PathLike, data: bytes) -> None:
    """Writes data (bytes, or any contiguous byte buffer) to path through open_atomically."""
    with open_atomically(path) as file:
        file.write(data)
