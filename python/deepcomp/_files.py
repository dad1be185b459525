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
        self.failure = None  # the OSError a write raised, which a writer such as torch.save may hide

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        try:
            self._file.write(view)
        except OSError as error:
            self.failure = error
            raise
        return len(view)


@contextlib.contextmanager
def open_atomically(path: PathLike) -> Iterator[BinaryIO]:
    """A binary file to write, in as many pieces as needed (torch.save(state, file) streams into it):
    the bytes go to a temporary file beside path, and only when the with-block ends without an
    exception is the file flushed to disk and renamed over path. A reader never sees half a file; on
    an error nothing at path changes and no temporary file is left. New files get the usual
    permissions (0666 less the umask); a replaced file keeps its mode. Raises OSError naming path
    when the file cannot be written (a full disk, too large), also from inside torch.save."""
    atomic = _C.AtomicFile(os.fspath(path))
    raw = _AtomicRaw(atomic)
    try:
        with io.BufferedWriter(raw) as file:
            yield file
        atomic.commit()
    except Exception as error:
        # torch.save reports a failed write as its own RuntimeError ("unexpected pos ..."): say what failed.
        if raw.failure is not None and error is not raw.failure:
            raise raw.failure from error
        raise
    finally:
        atomic.discard()  # nothing once committed


def write_atomically(path: PathLike, data: bytes) -> None:
    """Writes data (bytes, or any contiguous byte buffer) to path through open_atomically."""
    with open_atomically(path) as file:
        file.write(data)
