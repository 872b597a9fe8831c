r"""The ``toksmith`` command line.

    toksmith encode "some text"                    ids, one line (o200k_base by default)
    toksmith encode -f FILE --count                token count of a file, line by line
    toksmith count FILE... [--threads N]            tokens per file and in total, exact, any size
    toksmith encode --tokenizer tokenizer.json ... with a tokenizer.json
    toksmith decode 9906 1917                      text of ids
    toksmith list                                  bundled encodings
    toksmith train [FILES...] --vocab-size N --pattern o200k -o tokenizer.json
                                                   (no FILES: the Python standard library's sources;
                                                   '-': standard input)
    toksmith train FILES --pattern 'regex:\S+|\s+'  a regex of your own (regex: prefix)
    toksmith train FILES --superbpe --transition 0.8 --vocab-size N [--base o200k_base]
    toksmith compare TOKENIZER... --text FILE       bytes per token, tokens per document
    toksmith report TOKENIZER... [--corpus NAME=FILE_OR_DIR ...] [--json OUT] [--html OUT]
                                                   tokenizer quality side by side (docs/report.md)
    toksmith infer-mixture TOKENIZER --category NAME=FILES... [--merges T] [--json OUT]
                                                   share of each category in the tokenizer's training
                                                   data, from its merge list (docs/mixture.md)
    toksmith --version

Errors are one line on stderr and exit status 1 (2 for a bad option); Ctrl-C exits with
status 130 and leaves no partial output file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

#: A regex given on the command line starts with this prefix; anything else must be a name.
REGEX_PREFIX = "regex:"
#: Where ``train`` writes without ``-o`` (in the current directory; never over an existing file).
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
    """Yields lists of lines, so big files never sit whole in memory. Lines end at ``\n`` and
    keep their endings exactly (``\r\n`` stays); invalid UTF-8 becomes U+FFFD."""
    stream = sys.stdin.buffer if path == "-" else open(path, "rb")
    with stream:
        batch = []
        for line in stream:
            batch.append(line.decode("utf-8", errors="replace"))
            if len(batch) == chunk_lines:
                yield batch
                batch = []
        if batch:
            yield batch


def _read_text(path: str) -> str:
    """A whole text file, line endings kept exactly, invalid UTF-8 as U+FFFD."""
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        return f.read()


def _pattern_option(value: str) -> str:
    """A ``--pattern`` value: a known name, or ``regex:REGEX``. Anything else (a typo such as
    ``o300k``) is an error, not a literal regex that would train with the wrong pre-tokenizer."""
    from toksmith import patterns

    if value.startswith(REGEX_PREFIX):
        regex = value[len(REGEX_PREFIX):]
        if not regex:
            raise argparse.ArgumentTypeError(f"empty regex after {REGEX_PREFIX!r}")
        return regex
    if value in patterns.BY_NAME:
        return value
    shown = value if len(value) <= 60 else value[:57] + "..."
    raise argparse.ArgumentTypeError(
        f"unknown pattern name {shown!r}: known names are {', '.join(patterns.BY_NAME)}; "
        f"give a regex of your own as {REGEX_PREFIX}REGEX"
    )


def _threads_option(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} threads: give 0 (all cores) or more")
    return n


def _transition_option(value: str) -> float | int:
    try:
        return float(value) if "." in value else int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a vocabulary size (int) nor a fraction of --vocab-size (e.g. 0.8)"
        ) from None


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


def cmd_count(args: argparse.Namespace) -> int:
    """Tokens of each file and in total, as ``encode_ordinary`` of each whole file would give
    them, streamed through the engine in blocks (bounded memory, all cores)."""
    import toksmith
    from toksmith.errors import InvalidInputError, ToksmithError, UnsupportedError

    if args.files.count("-") > 1:
        raise InvalidInputError("'-' (standard input) can be given only once")
    if args.tokenizer:
        tok = toksmith.Tokenizer.from_file(args.tokenizer)
        try:  # the same ids, through the engine's block reader
            enc = tok.to_encoding()
        except ToksmithError as e:
            raise UnsupportedError(f"{args.tokenizer}: count needs a tokenizer with a tiktoken form: {e}") from None
    else:
        enc = toksmith.get_encoding(args.encoding)
    total = 0
    for path in args.files:
        n = enc.count_file(path, num_threads=args.threads)
        total += n
        print(f"{n}\t{path}", flush=True)
    print(f"{total}\ttotal")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from toksmith.errors import InvalidInputError

    _, decode = _encoder(args)
    ids = []
    for i in args.ids:
        try:
            ids.append(int(i))
        except ValueError:
            raise InvalidInputError(f"{i[:60]!r} is not a token id") from None
    print(decode(ids))
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


def _output_paths(output: str) -> tuple[str, str]:
    """``(target, temporary file)``: checks that the output can be written and creates the
    temporary file next to it now, so that a bad ``-o`` fails before training, not after."""
    from toksmith._files import temporary_next_to
    from toksmith.errors import ToksmithFileNotFoundError, ToksmithIsADirectoryError

    target = os.path.abspath(output)
    if os.path.isdir(target):
        raise ToksmithIsADirectoryError(f"{target}: is a directory; give a file name with -o")
    out_dir = os.path.dirname(target)
    if not os.path.isdir(out_dir):
        raise ToksmithFileNotFoundError(f"{out_dir}: no such directory (for -o {output})")
    return target, temporary_next_to(target)


def cmd_train(args: argparse.Namespace) -> int:
    import stat

    import toksmith

    files = [("/dev/stdin" if f == "-" else f) for f in args.files] or _stdlib_sources()

    def regular(f: str) -> bool:
        try:
            return stat.S_ISREG(os.stat(f).st_mode)
        except OSError:
            return False  # training reports it

    # Every 20th regular file is held out to measure bytes per token on text the trainer never
    # saw (pipes and FIFOs can be read only once: they are always trained on).
    held_out = [f for f in files if regular(f)][::20] if len(files) >= 20 else []
    train_files = [f for f in files if f not in set(held_out)]
    size = sum(os.path.getsize(f) for f in train_files if regular(f))
    # Written to a temporary file next to the target, then renamed: no partial file is ever
    # left behind, whatever stops training (an error, Ctrl-C); the file exists from here on,
    # so a target that cannot be written fails now, before training.
    target, tmp = _output_paths(args.output)
    try:
        start = time.perf_counter()
        if args.superbpe:
            tok = toksmith.train_superbpe(train_files, vocab_size=args.vocab_size, transition=args.transition,
                                          preset=args.preset, stage1_pattern=args.stage1_pattern,
                                          stage2_pattern=args.stage2_pattern,
                                          max_words_per_token=args.max_words or None,
                                          base=args.base, stage2_sample=args.stage2_sample,
                                          special_tokens=args.special_token,
                                          min_frequency=args.min_frequency, num_threads=args.threads,
                                          progress=not args.quiet)
            report = tok.training_report
            assert report is not None  # train_superbpe always reports
            summary = (f"SuperBPE: {report['stage1_merges']} stage-1 merges, "
                       f"{len(tok.merges) - report['stage1_merges']} stage-2 merges; "
                       f"{len(report['unused_stage1_merges'])} stage-1 merges unused in stage 2")
        else:
            tok = toksmith.train_bpe(train_files, vocab_size=args.vocab_size, pattern=args.pattern,
                                     special_tokens=args.special_token, min_frequency=args.min_frequency,
                                     num_threads=args.threads, progress=not args.quiet)
            summary = ""
        seconds = time.perf_counter() - start
        tok.save(tmp)  # itself whole or not at all; then renamed over the target
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if summary:
        print(summary)
    print(f"trained {len(tok.merges)} merges on {len(train_files)} files, {size / 1e6:.1f} MB, in {seconds:.1f} s; "
          f"peak memory {_peak_rss_mb():.0f} MB; saved {target}")
    if held_out:
        text = "".join(_read_text(f) for f in held_out)
        n = sum(len(e.ids) for e in tok.encode_batch(text.splitlines(keepends=True), add_special_tokens=False))
        print(f"held-out slice ({len(held_out)} files, {len(text.encode()) / 1e6:.1f} MB): "
              f"{len(text.encode()) / max(n, 1):.2f} bytes per token")
    return 0


def _load_any(spec: str, pattern: str = "o200k") -> tuple[CountTokens, str]:
    """A token-counting function and a label for a tokenizer.json path, a .tiktoken file (split
    with ``pattern``: the file holds no pattern) or an encoding name."""
    import toksmith
    from toksmith.errors import ToksmithFileNotFoundError

    if spec in toksmith.list_encoding_names():
        enc = toksmith.get_encoding(spec)
        return (lambda docs: [len(ids) for ids in enc.encode_ordinary_batch(docs)]), spec
    if not os.path.exists(spec):
        raise ToksmithFileNotFoundError(
            f"{spec}: no such tokenizer file (nor a bundled encoding: {toksmith.list_encoding_names()})"
        )
    if spec.endswith(".json"):
        tok = toksmith.Tokenizer.from_file(spec)
        return (lambda docs: [len(e.ids) for e in tok.encode_batch(docs, add_special_tokens=False)]), spec
    shown = pattern if pattern in toksmith.patterns.BY_NAME else REGEX_PREFIX + pattern
    print(f"{spec}: a rank file holds no pattern; its text is split with --pattern {shown}", file=sys.stderr)
    enc = toksmith.Encoding.from_tiktoken_file(spec, pat_str=toksmith.patterns.resolve(pattern))
    return (lambda docs: [len(ids) for ids in enc.encode_ordinary_batch(docs)]), spec


def cmd_compare(args: argparse.Namespace) -> int:
    from toksmith.errors import InvalidInputError

    text = _read_text(args.text)
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
        raise InvalidInputError(f"{args.text}: no text")
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
        change = f"{(total / first - 1) * 100:>+7.1f}%" if first else "     n/a"
        per_token = f"{n_bytes / total:>11.3f}" if total else f"{'n/a':>11}"
        print(f"{label:<{width}}  {total:>10}  {per_token}  {per_doc:>10.1f}  {change}")
    for label, total, _ in rows:
        if not total:
            print(f"toksmith compare: {label} gives no tokens for this text (does its pattern match it?)",
                  file=sys.stderr)
    return 0


def _corpus_specs(values: list[str]) -> dict[str, str]:
    """``--corpus NAME=FILE_OR_DIR`` values as ``{name: path}``."""
    from toksmith.errors import InvalidInputError, ToksmithFileNotFoundError, shorten

    corpora: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise InvalidInputError(f"--corpus {shorten(value)}: give NAME=FILE_OR_DIR")
        if name in corpora:
            raise InvalidInputError(f"--corpus {shorten(name)} is given twice")
        if not os.path.exists(path):
            raise ToksmithFileNotFoundError(f"{path}: no such corpus file or directory (--corpus {name})")
        corpora[name] = path
    return corpora


def cmd_report(args: argparse.Namespace) -> int:
    import toksmith
    from toksmith.errors import ToksmithError
    from toksmith.report import default_corpora, load_tokenizer, report

    # Bad arguments (a corpus without NAME=, a missing file, an unknown tokenizer) are usage
    # errors: one line and status 2, before anything is encoded or written.
    try:
        corpora = _corpus_specs(args.corpus) if args.corpus else default_corpora()
        tokenizers = {}
        for spec in args.tokenizers:
            label, tok = load_tokenizer(spec, args.pattern)
            if not spec.endswith(".json") and spec not in toksmith.list_encoding_names():
                shown = args.pattern if args.pattern in toksmith.patterns.BY_NAME else REGEX_PREFIX + args.pattern
                print(f"{spec}: a rank file holds no pattern; its text is split with --pattern {shown}",
                      file=sys.stderr)
            tokenizers[label] = tok
        if args.max_bytes < 1:
            raise toksmith.InvalidInputError(f"--max-bytes {args.max_bytes}: give 1 or more")
        for option, path in (("--json", args.json), ("--html", args.html)):
            out_dir = os.path.dirname(os.path.abspath(path)) if path else ""
            if path and not os.path.isdir(out_dir):
                raise toksmith.ToksmithFileNotFoundError(f"{out_dir}: no such directory (for {option} {path})")
    except (ValueError, KeyError, OSError) as e:
        if not isinstance(e, ToksmithError):
            raise
        print(f"toksmith report: {_message(e)}", file=sys.stderr)
        return 2
    result = report(tokenizers, corpora, pattern=args.pattern, num_threads=args.threads,
                                  max_bytes=args.max_bytes)
    print(result.table())
    from toksmith._files import replacing

    for path, text in ((args.json, result.to_json()), (args.html, result.to_html())):
        if path:
            with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"wrote {path}")
    return 0


def _category_specs(values: list[list[str]]) -> dict[str, list[str]]:
    """``--category NAME=FILE [FILE...]`` values as ``{name: [paths]}`` (a directory means its
    files)."""
    from toksmith.errors import InvalidInputError, ToksmithFileNotFoundError, shorten

    categories: dict[str, list[str]] = {}
    for group in values:
        first, *more = group
        name, sep, path = first.partition("=")
        if not sep or not name or not path:
            raise InvalidInputError(f"--category {shorten(first)}: give NAME=FILE [FILE...]")
        if name in categories:
            raise InvalidInputError(f"--category {shorten(name)} is given twice")
        files: list[str] = []
        for p in [path, *more]:
            if os.path.isdir(p):
                files.extend(sorted(str(f) for f in Path(p).rglob("*") if f.is_file()))
            elif os.path.isfile(p):
                files.append(p)
            else:
                raise ToksmithFileNotFoundError(f"{p}: no such sample file or directory (--category {name})")
        categories[name] = files
    return categories


def cmd_infer_mixture(args: argparse.Namespace) -> int:
    from toksmith.errors import InvalidInputError
    from toksmith.mixture import infer_mixture

    categories = _category_specs(args.category)
    if args.merges < 1 or args.top_k < 1:
        raise InvalidInputError(f"--merges {args.merges} and --top-k {args.top_k}: give 1 or more")
    if args.json:
        out_dir = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(out_dir):
            from toksmith.errors import ToksmithFileNotFoundError

            raise ToksmithFileNotFoundError(f"{out_dir}: no such directory (for --json {args.json})")
    start = time.perf_counter()
    result = infer_mixture(args.tokenizer, categories, merges=args.merges, top_k=args.top_k,
                           num_threads=args.threads)
    elapsed = time.perf_counter() - start
    width = max(len(name) for name in result)
    for name, share in sorted(result.items(), key=lambda kv: -kv[1]):
        print(f"{name:<{width}}  {100 * share:6.2f}%")
    print(f"total slack {result.total_slack:.4g} (pair occurrences per sample byte), {result.merges} merges, "
          f"{result.constraints} constraints in {result.rounds} rounds, {result.uncertified_steps} uncertified "
          f"steps, {elapsed:.1f} s; solver: {result.status}")
    if args.json:
        import json

        from toksmith._files import replacing

        with replacing(args.json) as tmp, open(tmp, "w", encoding="utf-8") as f:
            json.dump({"tokenizer": args.tokenizer, **result.to_dict()}, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}")
    return 0


def _message(e: BaseException) -> str:
    # KeyError's str() quotes its argument; a message reads better without the quotes.
    if isinstance(e, KeyError) and len(e.args) == 1 and isinstance(e.args[0], str):
        return e.args[0]
    return str(e)


def main(argv: list[str] | None = None) -> int:
    """The ``toksmith`` command; returns the exit status. Errors are one line on stderr (status
    1; 2 for a bad option, from argparse); Ctrl-C in any phase is status 130 with one line."""
    command = ["toksmith"]
    try:
        return _main(argv, command)
    except KeyboardInterrupt:  # also one that arrives while an error message is printed
        print(f"{command[-1]}: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None, command: list[str]) -> int:
    try:
        parser = _parser()
        args = parser.parse_args(argv)
        command.append(f"toksmith {args.command}")
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except BrokenPipeError:
        # The reader of our output went away (`toksmith encode -f big | head`): stop quietly,
        # with the status a shell gives a process killed by SIGPIPE.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except (ValueError, KeyError, TypeError, OSError, RuntimeError, ImportError) as e:
        from toksmith.errors import ToksmithError

        if isinstance(e, (TypeError, RuntimeError, ImportError)) and not isinstance(e, ToksmithError):
            raise  # not an input error: a bug, whose traceback is what a report needs
        print(f"{command[-1]}: {_message(e)}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    from toksmith import __version__

    parser = argparse.ArgumentParser(prog="toksmith", description="Exact, fast byte-level BPE tokenization.")
    parser.add_argument("--version", action="version", version=f"toksmith {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    pattern_help = ("gpt2, r50k, cl100k, o200k, llama3, qwen2, or a regex of your own written "
                    f"{REGEX_PREFIX}REGEX (tiktoken / PCRE syntax)")

    def vocab_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--encoding", default="o200k_base", help="bundled encoding (default: o200k_base)")
        p.add_argument("--tokenizer", metavar="JSON", help="a tokenizer.json file instead of --encoding")
        p.add_argument("--threads", type=_threads_option, default=None, help="worker threads (default or 0: all cores)")

    p = sub.add_parser("encode", help="text to token ids")
    p.add_argument("text", nargs="?", help="text to encode")
    p.add_argument("-f", "--file", help="encode a file line by line ('-' for stdin)")
    p.add_argument("--count", action="store_true", help="print only the number of tokens")
    vocab_options(p)
    p.set_defaults(run=cmd_encode)

    p = sub.add_parser("count", help="tokens of files of any size (per file and in total)")
    p.add_argument("files", nargs="+", metavar="FILE", help="text files ('-' for standard input)")
    vocab_options(p)
    p.set_defaults(run=cmd_count)

    p = sub.add_parser("decode", help="token ids to text")
    p.add_argument("ids", nargs="+")
    vocab_options(p)
    p.set_defaults(run=cmd_decode)

    p = sub.add_parser("train", help="train a byte-level BPE (or SuperBPE) tokenizer")
    p.add_argument("files", nargs="*",
                   help="text files, FIFOs, '-' for standard input (default: the Python standard library's sources)")
    p.add_argument("--vocab-size", type=int, default=8192, help="vocabulary size, bytes and specials included")
    p.add_argument("--pattern", type=_pattern_option, default="o200k", help=f"pre-tokenizer: {pattern_help}")
    p.add_argument("--special-token", action="append", default=[], help="a special token (repeatable)")
    p.add_argument("--min-frequency", type=int, default=1)
    p.add_argument("--threads", type=_threads_option, default=None, help="worker threads (default or 0: all cores)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="where to write the tokenizer.json (required, so that nothing lands in the current "
                        "directory unasked); written whole or not at all")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("--superbpe", action="store_true", help="train SuperBPE (superword tokens across spaces)")
    p.add_argument("--transition", type=_transition_option, default=0.8,
                   help="SuperBPE: vocabulary size where stage 2 starts, or a fraction of --vocab-size (default 0.8)")
    p.add_argument("--preset", default="2025", choices=["2025", "paper"], help="SuperBPE pre-tokenizer preset")
    p.add_argument("--stage1-pattern", type=_pattern_option, default=None,
                   help="SuperBPE: stage-1 pre-tokenizer, a name or regex:REGEX (overrides the preset)")
    p.add_argument("--stage2-pattern", type=_pattern_option, default=None,
                   help="SuperBPE: stage-2 pre-tokenizer, a name or regex:REGEX (overrides the preset)")
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
    p.add_argument("--pattern", type=_pattern_option, default="o200k",
                   help=f".tiktoken files hold no pattern: split their text with this one ({pattern_help}; "
                        "default o200k)")
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser("report", help="tokenizer quality side by side: bytes/token, fertility, digits, vocabulary")
    p.add_argument("tokenizers", nargs="+", metavar="TOKENIZER",
                   help="bundled encoding names, tokenizer.json files or .tiktoken files")
    p.add_argument("--corpus", action="append", default=[], metavar="NAME=FILE_OR_DIR",
                   help="a corpus (repeatable; a directory means all its files); default: the bundled samples")
    p.add_argument("--json", metavar="OUT", help="write all metrics as JSON (schema: docs/report.md)")
    p.add_argument("--html", metavar="OUT", help="write a self-contained HTML page")
    p.add_argument("--threads", type=_threads_option, default=None, help="worker threads (default or 0: all cores)")
    p.add_argument("--max-bytes", type=int, default=50_000_000, help="read at most this many bytes of each corpus "
                   "(default 50000000)")
    p.add_argument("--pattern", type=_pattern_option, default="o200k",
                   help=f".tiktoken files hold no pattern: split their text with this one ({pattern_help}; "
                        "default o200k)")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("infer-mixture", help="share of each category (language, code) in a tokenizer's training "
                       "data, from its merge list")
    p.add_argument("tokenizer", metavar="TOKENIZER",
                   help="a bundled encoding name, a tokenizer.json file or a .tiktoken file")
    p.add_argument("--category", action="append", nargs="+", required=True, metavar="NAME=FILES",
                   help="a category and its sample files or directories (repeatable): NAME=FILE [FILE...]")
    p.add_argument("--merges", type=int, default=1000, help="use the first T merges (default 1000)")
    p.add_argument("--top-k", type=int, default=32, help="candidate pairs per category and merge (default 32)")
    p.add_argument("--json", metavar="OUT", help="write the proportions and diagnostics as JSON")
    p.add_argument("--threads", type=_threads_option, default=None, help="worker threads (default or 0: all cores)")
    p.set_defaults(run=cmd_infer_mixture)

    p = sub.add_parser("list", help="bundled encodings")
    p.set_defaults(run=cmd_list)
    return parser


if __name__ == "__main__":
    sys.exit(main())
