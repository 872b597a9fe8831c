"""The ``toksmith`` command line.

    toksmith encode "some text"                    ids, one line (o200k_base by default)
    toksmith encode -f FILE --count                token count of a file, streamed
    toksmith encode --tokenizer tokenizer.json ... with a tokenizer.json
    toksmith decode 9906 1917                      text of ids
    toksmith list                                  bundled encodings
"""

from __future__ import annotations

import argparse
import sys
import time


def _encoder(args):
    import toksmith

    if args.tokenizer:
        tok = toksmith.Tokenizer.from_file(args.tokenizer)
        return lambda texts: [e.ids for e in tok.encode_batch(texts, num_threads=args.threads)], tok.decode
    enc = toksmith.get_encoding(args.encoding)
    return (lambda texts: enc.encode_batch(texts, num_threads=args.threads, disallowed_special=()),
            enc.decode)


def _read_chunks(path: str, chunk_lines: int = 4096):
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


def cmd_encode(args) -> int:
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


def cmd_decode(args) -> int:
    _, decode = _encoder(args)
    print(decode([int(i) for i in args.ids]))
    return 0


def cmd_list(args) -> int:
    import toksmith

    for name in toksmith.list_encoding_names():
        enc = toksmith.get_encoding(name)
        print(f"{name}\t{enc.n_vocab} ids\t{len(enc.special_tokens_set)} special tokens")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="toksmith", description="Exact, fast byte-level BPE tokenization.")
    sub = parser.add_subparsers(dest="command", required=True)

    def vocab_options(p):
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

    p = sub.add_parser("list", help="bundled encodings")
    p.set_defaults(run=cmd_list)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, KeyError, OSError) as e:
        print(f"toksmith {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
