"""Output files written whole or not at all: the data goes to a temporary file next to the
target, which is renamed over the target only once it is complete (a rename within one
directory is atomic), and removed on any error or ``KeyboardInterrupt``."""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Iterator

from toksmith.errors import os_error


def temporary_next_to(target: str) -> str:
    """Creates an empty temporary file in ``target``'s directory and returns its path. Its mode
    is a new file's (``0o666`` less the umask), or the mode of ``target`` where it exists.
    Fails (``ToksmithOSError``) where that directory cannot be written: the check a command
    makes before a long job."""
    directory, name = os.path.split(os.path.abspath(target))
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode) if os.path.isfile(target) else None
        while True:
            tmp = os.path.join(directory, f".toksmith-{name[:64]}.{uuid.uuid4().hex[:12]}.tmp")
            try:
                # the kernel applies the umask to 0o666, as for any new file
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            os.close(fd)
            if mode is not None:
                os.chmod(tmp, mode)
            return tmp
    except OSError as e:
        raise os_error(e) from None


@contextlib.contextmanager
def replacing(path: str) -> Iterator[str]:
    """``with replacing(path) as tmp:`` write ``tmp``; at the end of the block it becomes
    ``path``. A symlink is followed (the file it points to is replaced); a target that exists
    but is not a regular file (a FIFO, ``/dev/stdout``) is written directly."""
    target = os.path.realpath(path) if os.path.islink(path) else path
    if os.path.exists(target) and not os.path.isfile(target):
        yield target
        return
    tmp = temporary_next_to(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as e:
        raise os_error(e) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
