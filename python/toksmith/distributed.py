"""Counting on a Dask cluster: ``train_bpe(files, ..., client=client)`` and friends.

The corpus is cut into shards (byte ranges of files; a shard holds the lines that *start* in
its range, so shards hold every line exactly once wherever the cuts fall). Each shard is counted
on a worker by the Rust engine (GIL released), into a :class:`~toksmith.PieceCounts`; tables are
added pairwise on the workers as they finish (a tree reduction), and only the final table comes
back to the driver, which runs the merge loop. Counts are exact, so the result is the table of
the whole corpus, and training gives the same merges as in-process training.

Files are local paths (which every worker must see at the same path: a shared file system) or
fsspec URLs (``s3://``, ``gs://``, ``hdfs://``, ``file://``...) that the workers can open.
Worker deaths are handled by Dask: a shard whose worker died is counted again elsewhere (a
shard is counted at most ``distributed.scheduler.allowed-failures`` + 1 times), then the job
fails with :class:`WorkerLostError`; it never returns a table with a shard missing.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from toksmith._toksmith import CoreTrainer
from toksmith.counts import PieceCounts
from toksmith.errors import (
    InvalidInputError,
    ToksmithError,
    ToksmithFileNotFoundError,
    ToksmithIsADirectoryError,
    shorten,
)

if TYPE_CHECKING:  # an optional dependency (the dask extra)
    from distributed import Client

#: Text files: one path or URL, or a sequence of them.
Files = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
#: A pre-tokenizer stage of counting: ``("regex", pattern)`` or ``("pre_tokenizer", json)``.
Stage = tuple[str, str]

#: Default shard size: large enough that per-shard tables and task overheads stay small next
#: to counting, small enough to spread a few GB over many workers.
DEFAULT_SHARD_SIZE = 128 << 20
_BLOCK = 8 << 20


class WorkerLostError(ToksmithError, RuntimeError):
    """Dask workers kept dying while counting a shard (out of memory, killed)."""


def _is_local(path: str) -> bool:
    return "://" not in path


def shards(files: Files, shard_size: int | None = DEFAULT_SHARD_SIZE, n_workers: int = 1) -> list[tuple[str, int, int]]:
    """Cuts files into ``(path, start, end)`` byte ranges of about ``shard_size`` bytes. Sizes
    are read here, on the driver: a file it cannot see raises ``FileNotFoundError``.
    ``shard_size=None``: at most ``DEFAULT_SHARD_SIZE``, with the number of shards rounded up
    to a multiple of ``n_workers`` so that every worker gets the same share."""
    sizes = _sizes(files)
    if shard_size is None:
        total = sum(size for _, size in sizes)
        n = -(-total // DEFAULT_SHARD_SIZE)
        n = max(1, -(-n // n_workers) * n_workers)
        shard_size = max(1, -(-total // n))
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise InvalidInputError(f"shard_size must be a positive number of bytes, got {shorten(shard_size)}")
    out: list[tuple[str, int, int]] = []
    for path, size in sizes:
        n = max(1, -(-size // shard_size))
        out.extend((path, i * size // n, (i + 1) * size // n) for i in range(n))
    return out


def _sizes(files: Files) -> list[tuple[str, int]]:
    paths = [os.fspath(f) for f in ([files] if isinstance(files, (str, os.PathLike)) else files)]
    if not paths:
        raise InvalidInputError("no files to count")
    out: list[tuple[str, int]] = []
    for path in paths:
        if _is_local(path):
            if not os.path.exists(path):
                raise ToksmithFileNotFoundError(f"{path}: no such file")
            if os.path.isdir(path):
                raise ToksmithIsADirectoryError(f"{path}: is a directory, not a text file")
            size = os.path.getsize(path)
        else:
            import fsspec

            fs, p = fsspec.core.url_to_fs(path)
            try:
                info = fs.info(p)
            except FileNotFoundError as e:
                raise ToksmithFileNotFoundError(f"{path}: no such file") from e
            if info.get("type") == "directory":
                raise ToksmithIsADirectoryError(f"{path}: is a directory, not a text file")
            size = int(info["size"])
        out.append((path, size))
    return out


def _remote_blocks(path: str, start: int, end: int) -> Iterator[bytes]:
    """Blocks of whole lines of an fsspec URL: the lines that start in ``[start, end)``."""
    import fsspec

    with fsspec.open(path, "rb") as f:
        pos = start
        if start > 0:
            # A line starts at `start` iff the byte before it is a newline.
            f.seek(start - 1)
            pos = start - 1 + len(f.readline())
        carry = b""
        while pos < end:
            data = f.read(min(_BLOCK, end - pos))
            if not data:
                break
            pos += len(data)
            buf = carry + data
            cut = buf.rfind(b"\n") + 1
            if cut:
                yield buf[:cut]
            carry = buf[cut:]
        if carry:
            # The last line started before `end`: it is ours to its end.
            yield carry + f.readline()


def count_shard(
    kind: str,
    stages: Sequence[Stage],
    path: str,
    start: int,
    end: int,
    min_frequency: int = 1,
    top_k: int | None = None,
    num_threads: int | None = 1,
) -> PieceCounts:
    """Counts one shard (the lines of ``path`` that start in ``[start, end)``) into a table,
    pruned if asked. Runs on a Dask worker; usable anywhere."""
    trainer = CoreTrainer(stages, False, False)
    if _is_local(path):
        trainer.add_file_range(path, start, end, num_threads)
    else:
        for block in _remote_blocks(path, start, end):
            trainer.add_block(path, block, num_threads)
    table = PieceCounts(trainer.take_table(kind))
    if min_frequency > 1 or top_k is not None:
        table = table.pruned(min_frequency, top_k)
    return table


def _add(a: PieceCounts, b: PieceCounts) -> PieceCounts:
    return a + b


class _Bar:
    """A one-line progress bar on stderr, fed by finished shards."""

    def __init__(self, show: bool, n_shards: int, total_bytes: int) -> None:
        self.show, self.n, self.total = show, n_shards, total_bytes
        self.done = self.bytes = 0
        self.t0 = time.perf_counter()

    def shard(self, size: int) -> None:
        self.done += 1
        self.bytes += size
        if self.show:
            el = time.perf_counter() - self.t0
            mib = self.bytes / (1 << 20)
            sys.stderr.write(
                f"\rcounting on dask  {self.done}/{self.n} shards  {mib:,.0f}/{self.total / (1 << 20):,.0f} MiB"
                f"  {el:,.0f} s  ({mib / max(el, 1e-9):,.0f} MiB/s)"
            )
            sys.stderr.flush()

    def close(self, message: str = "") -> None:
        if self.show and self.done:
            sys.stderr.write(f"  {message}\n")
            sys.stderr.flush()


def count_on_cluster(
    client: Client,
    files: Files,
    *,
    kind: str,
    stages: Sequence[Stage],
    shard_size: int | None = None,
    min_frequency: int = 1,
    top_k: int | None = None,
    progress: bool = True,
) -> PieceCounts:
    """Counts ``files`` on the Dask cluster of ``client``; returns the summed table."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    if min_frequency < 1:
        raise InvalidInputError("shard_min_frequency must be at least 1")
    if top_k is not None and top_k < 1:
        raise InvalidInputError("shard_top_k must be at least 1 (or None)")
    CoreTrainer(stages, False, False)  # a bad pattern fails here, once, not on every worker
    parts = shards(files, shard_size, n_workers=max(1, sum(client.nthreads().values())))
    token = uuid.uuid4().hex[:12]
    futures = {}
    for i, (path, start, end) in enumerate(parts):
        fut = client.submit(
            count_shard, kind, stages, path, start, end, min_frequency, top_k, key=f"toksmith-count-{token}-{i}"
        )
        futures[fut.key] = (fut, (path, start, end))
    bar = _Bar(progress, len(parts), sum(e - s for _, s, e in parts))
    live = [f for f, _ in futures.values()]
    pending = None
    n_add = 0
    try:
        ac = as_completed(live)
        for fut in ac:
            shard = futures.get(fut.key, (None, None))[1]
            try:
                if fut.status != "finished":
                    fut.result()  # raises the worker's exception here
            except KilledWorker as e:
                where = f"shard {shard[0]} bytes {shard[1]}-{shard[2]}" if shard else "adding count tables"
                raise WorkerLostError(f"Dask workers died while counting ({where}); no result was produced: {e}") from e
            if shard is not None:
                bar.shard(shard[2] - shard[1])
            if pending is None:
                pending = fut
            else:
                # Pairwise sums on the workers: only the final table reaches the driver.
                n_add += 1
                s = client.submit(_add, pending, fut, key=f"toksmith-add-{token}-{n_add}")
                live.append(s)
                ac.add(s)
                pending = None
        t0 = time.perf_counter()
        assert pending is not None  # every shard's table was added into this last one
        try:
            table: PieceCounts = pending.result()
        except KilledWorker as e:
            raise WorkerLostError(f"Dask workers died while adding count tables; no result was produced: {e}") from e
        bar.close(f"fetched the table in {time.perf_counter() - t0:.1f} s")
        return table
    except BaseException:
        bar.close("failed")
        client.cancel(live)
        raise
