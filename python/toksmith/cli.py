"""The ``toksmith`` command line.

    toksmith encode "some text"                    ids, one line (o200k_base by default)
    toksmith encode -f FILE --count                token count of a file, streamed
    toksmith encode --tokenizer tokenizer.json ... with a tokenizer.json
    toksmith decode 9906 1917                      text of ids
    toksmith list                                  bundled encodings
    toksmith train [FILES...] --vocab-size N --pattern o200k -o tokenizer.json
                                                   (no FILES: the Python standard library's sources)
    toksmith train FILES --superbpe --transition 0.8 --vocab-size N [--base o200k_base]
    toksmith compare TOKENIZER... --text FILE       bytes per token, tokens per document
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator

EncodeBatch = Callable[[list[str]], list[list[int]]]
Decode = Callable[[list[int]], str]
CountTokens = Callable[[list[str]], list[int]]


def _encoder(args: argparse.Namespace) -> tuple[EncodeBatch, Decode]:
    import toksmith

    if args.tokenizer:
        tok = toksmith.Tokenizer.from_file(args.tokenizer)
        return lambda texts: [e.ids for e in tok.encode_batch(texts, num_threads=args.threads)], tok.decode
    enc = toksmith.get_encoding(args.encoding)
    return (lambda texts: enc.encode_batch(texts, num_threads=args.threads, disallowed_special=()),
            enc.decode)


def _read_chunks(path: str, chunk_lines: int = 4096) -> Iterator[list[str]]:
    """Yields lists of lines, so big files never sit whole in memory."""
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="replace")
    with stream:
        batch = []
        for line in stream:
            batch.append(line)
            if len(batch) == chunk_lines:
                yield batch
                batch = []
        if batch:
            yield batch


def cmd_encode(args: argparse.Namespace) -> int:
    encode, _ = _encoder(args)
    if args.file is None:
        if args.text is None:
            print("toksmith encode: give TEXT or -f FILE", file=sys.stderr)
            return 2
        ids = encode([args.text])[0]
        print(len(ids) if args.count else " ".join(map(str, ids)))
        return 0
    start, total_tokens, total_bytes = time.perf_counter(), 0, 0
    out = sys.stdout
    for lines in _read_chunks(args.file):
        batch = encode(lines)
        total_tokens += sum(map(len, batch))
        total_bytes += sum(len(s.encode("utf-8")) for s in lines)
        if not args.count:
            out.write("\n".join(" ".join(map(str, ids)) for ids in batch) + "\n")
    if args.count:
        seconds = time.perf_counter() - start
        print(f"{total_tokens} tokens, {total_bytes} bytes, {total_bytes / max(total_tokens, 1):.2f} bytes/token, "
              f"{total_bytes / 1e6 / seconds:.1f} MB/s")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    _, decode = _encoder(args)
    print(decode([int(i) for i in args.ids]))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    import toksmith

    for name in toksmith.list_encoding_names():
        enc = toksmith.get_encoding(name)
        print(f"{name}\t{enc.n_vocab} ids\t{len(enc.special_tokens_set)} special tokens")
    return 0


def _stdlib_sources() -> list[str]:
    """The default corpus, present on every machine: the standard library's own .py files."""
    import sysconfig
    from pathlib import Path

    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(str(p) for p in root.rglob("*.py") if "site-packages" not in p.parts)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cmd_train(args: argparse.Namespace) -> int:
    import os
    import tempfile

    import toksmith

    files = args.files or _stdlib_sources()
    # Every 20th file is held out to measure bytes per token on text the trainer never saw.
    held_out = files[::20] if len(files) >= 20 else []
    train_files = [f for f in files if f not in set(held_out)]
    size = sum(os.path.getsize(f) for f in train_files if os.path.isfile(f))
    start = time.perf_counter()
    if args.superbpe:
        transition = float(args.transition) if "." in args.transition else int(args.transition)
        tok = toksmith.train_superbpe(train_files, vocab_size=args.vocab_size, transition=transition,
                                      preset=args.preset, stage1_pattern=args.stage1_pattern,
                                      stage2_pattern=args.stage2_pattern, max_words_per_token=args.max_words or None,
                                      base=args.base, stage2_sample=args.stage2_sample,
                                      special_tokens=args.special_token,
                                      min_frequency=args.min_frequency, num_threads=args.threads,
                                      progress=not args.quiet)
        report = tok.training_report
        assert report is not None  # train_superbpe always reports
        print(f"SuperBPE: {report['stage1_merges']} stage-1 merges, {len(tok.merges) - report['stage1_merges']} "
              f"stage-2 merges; {len(report['unused_stage1_merges'])} stage-1 merges unused in stage 2")
    else:
        tok = toksmith.train_bpe(train_files, vocab_size=args.vocab_size, pattern=args.pattern,
                                 special_tokens=args.special_token, min_frequency=args.min_frequency,
                                 num_threads=args.threads, progress=not args.quiet)
    seconds = time.perf_counter() - start
    # Write next to the target, then rename: no partial file is ever left behind.
    out_dir = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".toksmith-", suffix=".json")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)
        tok.save(tmp)
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"trained {len(tok.merges)} merges on {len(train_files)} files, {size / 1e6:.1f} MB, in {seconds:.1f} s; "
          f"peak memory {_peak_rss_mb():.0f} MB; saved {args.output}")
    if held_out:
        text = "".join(open(f, encoding="utf-8", errors="replace").read() for f in held_out)
        n = sum(len(e.ids) for e in tok.encode_batch(text.splitlines(keepends=True), add_special_tokens=False))
        print(f"held-out slice ({len(held_out)} files, {len(text.encode()) / 1e6:.1f} MB): "
              f"{len(text.encode()) / max(n, 1):.2f} bytes per token")
    return 0


def _load_any(spec: str, pattern: str = "o200k") -> tuple[CountTokens, str]:
    """A token-counting function and a label for a tokenizer.json path, a .tiktoken file (split
    with ``pattern``: the file holds no pattern) or an encoding name."""
    import os

    import toksmith

    if spec in toksmith.list_encoding_names():
        enc = toksmith.get_encoding(spec)
        return (lambda docs: [len(ids) for ids in enc.encode_ordinary_batch(docs)]), spec
    if not os.path.exists(spec):
        raise FileNotFoundError(
            f"{spec}: no such tokenizer file (nor a bundled encoding: {toksmith.list_encoding_names()})"
        )
    if spec.endswith(".json"):
        tok = toksmith.Tokenizer.from_file(spec)
        return (lambda docs: [len(e.ids) for e in tok.encode_batch(docs, add_special_tokens=False)]), spec
    enc = toksmith.Encoding.from_tiktoken_file(spec, pat_str=toksmith.patterns.resolve(pattern))
    return (lambda docs: [len(ids) for ids in enc.encode_ordinary_batch(docs)]), spec


def cmd_compare(args: argparse.Namespace) -> int:
    with open(args.text, encoding="utf-8", errors="replace") as f:
        text = f.read()
    # Documents: blocks separated by blank lines (each keeps its text exactly; nothing is lost).
    docs, current = [], []
    for line in text.splitlines(keepends=True):
        current.append(line)
        if not line.strip():
            if any(x.strip() for x in current):
                docs.append("".join(current))
                current = []
    if current:
        docs.append("".join(current))
    if not docs:
        raise ValueError(f"{args.text}: no text")
    n_bytes = len(text.encode("utf-8"))
    rows = []
    for spec in args.tokenizers:
        encode, label = _load_any(spec, args.pattern)
        counts = encode(docs)
        rows.append((label, sum(counts), sum(counts) / len(docs)))
    first = rows[0][1]
    width = max(len(r[0]) for r in rows)
    print(f"{args.text}: {n_bytes / 1e6:.2f} MB, {len(docs)} documents")
    print(f"{'tokenizer':<{width}}  {'tokens':>10}  {'bytes/token':>11}  {'tokens/doc':>10}  {'vs first':>8}")
    for label, total, per_doc in rows:
        print(f"{label:<{width}}  {total:>10}  {n_bytes / max(total, 1):>11.3f}  {per_doc:>10.1f}  "
              f"{(total / first - 1) * 100:>+7.1f}%")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="toksmith", description="Exact, fast byte-level BPE tokenization.")
    sub = parser.add_subparsers(dest="command", required=True)

    def vocab_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--encoding", default="o200k_base", help="bundled encoding (default: o200k_base)")
        p.add_argument("--tokenizer", metavar="JSON", help="a tokenizer.json file instead of --encoding")
        p.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores)")

    p = sub.add_parser("encode", help="text to token ids")
    p.add_argument("text", nargs="?", help="text to encode")
    p.add_argument("-f", "--file", help="encode a file line by line ('-' for stdin)")
    p.add_argument("--count", action="store_true", help="print only the number of tokens")
    vocab_options(p)
    p.set_defaults(run=cmd_encode)

    p = sub.add_parser("decode", help="token ids to text")
    p.add_argument("ids", nargs="+")
    vocab_options(p)
    p.set_defaults(run=cmd_decode)

    p = sub.add_parser("train", help="train a byte-level BPE (or SuperBPE) tokenizer")
    p.add_argument("files", nargs="*", help="text files (default: the Python standard library's sources)")
    p.add_argument("--vocab-size", type=int, default=8192, help="vocabulary size, bytes and specials included")
    p.add_argument("--pattern", default="o200k", help="gpt2, cl100k, o200k, llama3, qwen2 or a regex")
    p.add_argument("--special-token", action="append", default=[], help="a special token (repeatable)")
    p.add_argument("--min-frequency", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("-o", "--output", default="tokenizer.json")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("--superbpe", action="store_true", help="train SuperBPE (superword tokens across spaces)")
    p.add_argument("--transition", default="0.8",
                   help="SuperBPE: vocabulary size where stage 2 starts, or a fraction of --vocab-size (default 0.8)")
    p.add_argument("--preset", default="2025", choices=["2025", "paper"], help="SuperBPE pre-tokenizer preset")
    p.add_argument("--stage1-pattern", default=None, help="SuperBPE: stage-1 regex (overrides the preset)")
    p.add_argument("--stage2-pattern", default=None, help="SuperBPE: stage-2 regex (overrides the preset)")
    p.add_argument("--max-words", type=int, default=4, help="SuperBPE: most words per stage-2 token (0: no limit)")
    p.add_argument("--base", default=None,
                   help="SuperBPE: extend this tokenizer (encoding name, tokenizer.json, .tiktoken) instead of stage 1")
    p.add_argument("--stage2-sample", type=float, default=1.0,
                   help="SuperBPE: fraction of lines stage 2 counts (less memory; default 1.0)")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("compare", help="bytes per token and tokens per document of several tokenizers")
    p.add_argument("tokenizers", nargs="+", metavar="TOKENIZER",
                   help="tokenizer.json files, .tiktoken files or bundled encoding names")
    p.add_argument("--text", required=True, help="held-out text (documents separated by blank lines)")
    p.add_argument("--pattern", default="o200k",
                   help=".tiktoken files hold no pattern: split their text with this one (gpt2, cl100k, o200k, "
                        "llama3, qwen2 or a regex; default o200k)")
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser("list", help="bundled encodings")
    p.set_defaults(run=cmd_list)

    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (ValueError, KeyError, OSError) as e:
        print(f"toksmith {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
