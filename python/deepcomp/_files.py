"""The one way the package writes a file: atomically, through the same C++ writer as deepcomp.save."""
import os
from typing import Union

from . import _C


def write_atomically(path: Union[str, os.PathLike], data: bytes) -> None:
    """Writes data (bytes, or any contiguous byte buffer) to a temporary file beside path, flushes it
    to disk and renames it over path: a reader never sees half a file, and on an error nothing at
    path changes and no temporary file is left. New files get the usual permissions (0666 less the
    umask). Raises OSError naming path."""
    _C.write_file_atomically(os.fspath(path), memoryview(data).cast("B"))
