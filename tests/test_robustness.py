"""Never crash, never answer wrong (the Python surface): every refusal is a typed exception
under toksmith.ToksmithError (and the builtin exception callers expect there), with a short
message that says what to pass; edge inputs (empty batches, empty documents, numpy ids,
pipes) give the right answer instead of an error. The command line's part is in test_cli.py.
"""

import os
import threading

import numpy as np
import pytest

import toksmith
from toksmith import errors, train

from toolkit import peers

ENC = toksmith.get_encoding("o200k_base")
TOK = ENC.to_tokenizer()
N_VOCAB = ENC.n_vocab  # 200019: ids 200000..200017 are unused


# --------------------------------------------------------------------- the hierarchy


@pytest.mark.parametrize(
    "name, builtins",
    [
        ("ToksmithError", (Exception,)),
        ("InvalidInputError", (ValueError,)),
        ("FormatError", (ValueError,)),
        ("UnsupportedError", (ValueError,)),
        ("ToksmithTypeError", (TypeError,)),
        ("ToksmithKeyError", (KeyError,)),
        ("ToksmithOSError", (OSError,)),
        ("ToksmithFileNotFoundError", (FileNotFoundError,)),
        ("InternalError", (RuntimeError,)),
    ],
)
def test_every_error_is_a_toksmith_error_and_the_builtin_callers_expect(name, builtins):
    cls = getattr(toksmith, name)
    assert cls is getattr(errors, name) and cls.__module__ == "toksmith.errors"
    assert issubclass(cls, toksmith.ToksmithError) and issubclass(cls, builtins)
    assert issubclass(toksmith.ToksmithFileNotFoundError, toksmith.ToksmithOSError)
    # the extension raises these classes by name: constructing them as it will must work
    assert str(cls("a message")) in ("a message", "'a message'")


def test_os_errors_keep_their_precise_class():
    for builtin in (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, OSError):
        e = errors.os_error(builtin(5, "message", "some/file"))
        assert isinstance(e, builtin) and isinstance(e, toksmith.ToksmithOSError)
        assert (e.errno, e.filename) == (5, "some/file")


def test_messages_quote_user_values_briefly():
    huge = "x" * 100_000
    for call in (
        lambda: ENC.encode("text", allowed_special=huge),
        lambda: toksmith.get_encoding(huge),
        lambda: ENC.encode_batch(huge),
        lambda: toksmith.merge_batch(["a b"], ENC, boundaries=huge),
    ):
        with pytest.raises(toksmith.ToksmithError) as info:
            call()
        assert len(str(info.value)) < 400, str(info.value)[:500]
    assert errors.shorten(huge).endswith("'…") and len(errors.shorten(huge)) == 80


# --------------------------------------------------------------------- lists of str


def _train_bpe(**kw):
    return toksmith.train_bpe(iterator=["a b c"] * 3, vocab_size=300, progress=False, **kw)


def _train_superbpe(**kw):
    return toksmith.train_superbpe(iterator=["a b c"] * 3, vocab_size=300, transition=280, progress=False, **kw)


@pytest.mark.parametrize(
    "call",
    [
        lambda: ENC.encode_batch("abc"),
        lambda: ENC.encode_ordinary_batch("abc"),
        lambda: ENC.encode_batch_to_numpy("abc"),
        lambda: TOK.encode_batch("abc"),
        lambda: toksmith.merge_batch("abc", ENC),
        lambda: _train_bpe(special_tokens="<s>"),
        lambda: _train_superbpe(special_tokens="<s>"),
        lambda: toksmith.train_bpe(iterator="a b c", vocab_size=300, progress=False),
        lambda: toksmith.count_pieces(iterator="a b c", progress=False),
        lambda: toksmith.ByteLM(ENC, lambda prefixes: None, probes="ab"),
    ],
    ids=["encode_batch", "encode_ordinary_batch", "encode_batch_to_numpy", "Tokenizer.encode_batch",
         "merge_batch", "train_bpe special_tokens", "train_superbpe special_tokens", "train_bpe iterator",
         "count_pieces iterator", "ByteLM probes"],
)
def test_a_single_str_where_a_list_of_str_is_expected_is_refused(call):
    with pytest.raises(toksmith.ToksmithTypeError, match="single str") as info:
        call()
    assert isinstance(info.value, TypeError)


def test_lists_of_str_refuse_other_items():
    with pytest.raises(toksmith.ToksmithTypeError, match="item 1 is bytes"):
        ENC.encode_ordinary_batch(["ok", b"bad"])
    with pytest.raises(toksmith.ToksmithTypeError, match="item 0 is int"):
        TOK.encode_batch([5])
    with pytest.raises(toksmith.ToksmithTypeError):
        ENC.encode_batch(None)
    # tuples and other sequences of str are fine
    assert ENC.encode_batch(("hello", "world")) == [ENC.encode("hello"), ENC.encode("world")]


# --------------------------------------------------------------------- special-token arguments


def test_special_token_arguments_take_sets_lists_or_all():
    text = "hi <|endoftext|>"
    expected = ENC.encode(text, allowed_special="all")
    for allowed in ({"<|endoftext|>"}, frozenset({"<|endoftext|>"}), ["<|endoftext|>"], ("<|endoftext|>",),
                    ENC._special_tokens.keys()):
        assert ENC.encode(text, allowed_special=allowed) == expected
    assert ENC.encode(text, disallowed_special=()) == ENC.encode(text, disallowed_special=[])
    with pytest.raises(toksmith.InvalidInputError, match='"all" or a set of special-token strings') as info:
        ENC.encode(text, allowed_special="al")
    assert isinstance(info.value, ValueError) and "{'al'}" in str(info.value)
    with pytest.raises(toksmith.InvalidInputError, match="disallowed_special"):
        ENC.encode("hello", disallowed_special="<|endoftext|>")  # a str is not a set of its characters
    with pytest.raises(toksmith.ToksmithTypeError, match="allowed_special must hold only str"):
        ENC.encode(text, allowed_special={1})
    with pytest.raises(toksmith.ToksmithTypeError):
        ENC.encode_batch([text], allowed_special=None)


# --------------------------------------------------------------------- token ids


@pytest.mark.parametrize(
    "call",
    [
        lambda ids: ENC.decode(ids),
        lambda ids: ENC.decode_bytes(ids),
        lambda ids: ENC.decode_tokens_bytes(ids),
        lambda ids: ENC.decode_with_offsets(ids),
        lambda ids: ENC.decode_batch([[24912], ids]),
        lambda ids: TOK.decode(ids),
        lambda ids: TOK.decode_batch([[24912], ids]),
    ],
    ids=["decode", "decode_bytes", "decode_tokens_bytes", "decode_with_offsets", "decode_batch",
         "Tokenizer.decode", "Tokenizer.decode_batch"],
)
def test_ids_that_are_not_ints_are_type_errors_and_bad_ids_are_key_errors(call):
    for bad in ([24912, 1.5], [24912, "7"], [24912, None], np.array([1.0, 2.0])):
        with pytest.raises(toksmith.ToksmithTypeError) as info:
            call(bad)
        assert isinstance(info.value, TypeError)
    for bad in ([24912, -1], [24912, 2**40]):
        with pytest.raises(toksmith.ToksmithKeyError) as info:
            call(bad)
        message = info.value.args[0]
        assert isinstance(info.value, KeyError) and f"token id {bad[1]} at position 1 is out of range" in message
        assert f"(0..{N_VOCAB - 1})" in message
    with pytest.raises(toksmith.ToksmithTypeError):
        call("hello")  # not a sequence of characters


def test_unknown_ids_in_range_are_key_errors_like_tiktoken():
    theirs = peers.tiktoken_encoding("o200k_base")
    for token in (200010, N_VOCAB):
        with pytest.raises(KeyError):
            theirs.decode([token])
        with pytest.raises(toksmith.ToksmithKeyError, match=f"token id {token} at position 0 is"):
            ENC.decode([token])
        with pytest.raises(toksmith.ToksmithKeyError, match=f"token id {token} is"):
            ENC.decode_single_token_bytes(token)
    # tokenizers' rule for a tokenizer.json vocabulary: ids of no token are skipped
    assert TOK.decode([24912, 200010]) == "hello" == peers.hf_tokenizer("o200k_base").decode([24912, 200010])


def test_single_ids_must_be_ints():
    for bad in (1.5, "5", None):
        with pytest.raises(toksmith.ToksmithTypeError):
            ENC.decode_single_token_bytes(bad)
        with pytest.raises(toksmith.ToksmithTypeError):
            TOK.id_to_token(bad)
    assert ENC.decode_single_token_bytes(np.int64(24912)) == b"hello"
    assert TOK.id_to_token(-1) is None
    with pytest.raises(toksmith.ToksmithTypeError):
        ENC.encode_single_token(5)  # not five zero bytes
    with pytest.raises(toksmith.ToksmithKeyError) as info:
        ENC.encode_single_token("x" * 10_000)
    assert len(str(info.value)) < 200


def test_numpy_ids_of_any_integer_dtype_decode_exactly():
    ids = ENC.encode("hello world, numpy")
    for dtype in (np.uint32, np.int32, np.int64, np.uint64):
        assert ENC.decode(np.array(ids, dtype=dtype)) == "hello world, numpy"
        assert TOK.decode(np.array(ids, dtype=dtype)) == "hello world, numpy"
    assert ENC.decode_batch(np.array([ids, ids], dtype=np.uint32)) == ["hello world, numpy"] * 2
    # a uint64 id beyond int64 is reported as itself, not wrapped around to a negative number
    with pytest.raises(toksmith.ToksmithKeyError, match=str(2**64 - 1)):
        ENC.decode(np.array([2**64 - 1], dtype=np.uint64))
    with pytest.raises(toksmith.ToksmithTypeError, match="1-D"):
        ENC.decode(np.array([[1, 2]]))


def test_bools_are_ids_as_in_tiktoken():
    theirs = peers.tiktoken_encoding("o200k_base")
    assert ENC.decode([True, False]) == theirs.decode([True, False])


# --------------------------------------------------------------------- foreign tokenizers


@pytest.mark.parametrize(
    "call",
    [
        lambda t: toksmith.merge_batch(["abc"], t),
        lambda t: toksmith.ByteLM(t, lambda prefixes: None),
        lambda t: toksmith.train_superbpe(iterator=["a b"], vocab_size=300, base=t, progress=False),
        lambda t: toksmith.Tokenizer.from_encoding(t),
    ],
    ids=["merge_batch", "ByteLM", "train_superbpe base", "Tokenizer.from_encoding"],
)
def test_tokenizers_of_other_libraries_are_refused_with_how_to_convert_them(call):
    with pytest.raises(toksmith.ToksmithTypeError, match=r"toksmith\.Encoding\.from_tiktoken\(enc\)"):
        call(peers.tiktoken_encoding("o200k_base"))
    with pytest.raises(toksmith.ToksmithTypeError, match=r"toksmith\.Tokenizer\.from_str\(tok\.to_str\(\)\)"):
        call(peers.hf_tokenizer("o200k_base"))


def test_an_encoding_converted_from_tiktoken_gives_tiktokens_ids():
    theirs = peers.tiktoken_encoding("cl100k_base")
    ours = toksmith.Encoding.from_tiktoken(theirs)
    text = "Hello, world! <|endoftext|> 12345 naïve"
    assert ours.name == "cl100k_base" and ours.n_vocab == theirs.n_vocab
    assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    assert toksmith.Encoding.from_tiktoken(ours) is ours
    converted = toksmith.Tokenizer.from_str(peers.hf_tokenizer("cl100k_base").to_str())
    assert converted.encode("Hello, world!").ids == theirs.encode("Hello, world!")
    with pytest.raises(toksmith.ToksmithTypeError, match="tiktoken.Encoding"):
        toksmith.Encoding.from_tiktoken(object())


# --------------------------------------------------------------------- dynamic merging edges


def test_merging_an_empty_batch_gives_an_empty_result():
    for batch in ([], [""], [[]]):
        res = toksmith.merge_batch(batch, ENC, boundaries="words")
        assert res.log == [] and res.vocab == [] and res.curve().tolist() == [0]
        assert len(res.ids) == len(batch) and all(len(ids) == 0 for ids in res.ids)
        assert [res.decode(i) for i in range(len(batch))] == [b""] * len(batch)
        ids, spans = res.replay(3)
        assert len(ids) == len(batch) and all(len(s) == 0 for s in spans)


@pytest.mark.parametrize("as_ids", [False, True])
def test_empty_documents_stay_empty_and_leave_the_others_unchanged(as_ids):
    docs = ["", "unbelievably unbelievable", "", "unbelievably so", ""]
    batch = [ENC.encode(d) for d in docs] if as_ids else docs
    kwargs = {"boundaries": "words"} if as_ids else {}
    full = toksmith.merge_batch(batch, ENC, **kwargs)
    kept = toksmith.merge_batch([b for b in batch if len(b)], ENC, **kwargs)
    assert full.log == kept.log and full.curve().tolist() == kept.curve().tolist()
    assert [full.decode(i) for i in range(len(docs))] == [d.encode() for d in docs]
    for i, j in ((1, 0), (3, 1)):
        assert full.tokens(i) == kept.tokens(j)
        assert full.spans[i].tolist() == kept.spans[j].tolist()
        assert full.base_ids[i].tolist() == kept.base_ids[j].tolist()
    for i in (0, 2, 4):
        assert full.ids[i].dtype == np.uint32 and full.spans[i].shape == (0, 2) and len(full.base_ids[i]) == 0
    ids, spans = full.replay([5, 1, 5, 0, 5])
    kept_ids, kept_spans = kept.replay([1, 0])
    assert [x.tolist() for x in ids] == [[], kept_ids[0].tolist(), [], kept_ids[1].tolist(), []]
    assert full.surface_matrix(4, -1).shape == (len(full.vocab), 4)
    with pytest.raises(toksmith.InvalidInputError, match="5 sequences but 2 budgets"):
        full.replay([1, 2])


def test_merge_batch_checks_its_arguments_before_the_engine():
    with pytest.raises(toksmith.InvalidInputError, match="target_reduction"):
        toksmith.merge_batch([], ENC, target_reduction=1.5)
    with pytest.raises(toksmith.InvalidInputError, match="merges must be at least 0"):
        toksmith.merge_batch(["a b"], ENC, merges=-1)
    with pytest.raises(toksmith.ToksmithTypeError, match="position 1"):
        toksmith.merge_batch([[1, 2.5]], ENC, boundaries="words")  # not truncated to 2
    with pytest.raises(toksmith.InvalidInputError, match="2 sequences but 1 word-id lists"):
        toksmith.merge_batch([[1], []], ENC, word_ids=[[0]])


# --------------------------------------------------------------------- files and streams


def test_missing_files_and_directories_are_typed_os_errors(tmp_path):
    with pytest.raises(toksmith.ToksmithFileNotFoundError):
        toksmith.Tokenizer.from_file(tmp_path / "missing.json")
    with pytest.raises(errors.ToksmithIsADirectoryError):
        toksmith.Tokenizer.from_file(tmp_path)
    with pytest.raises(toksmith.ToksmithFileNotFoundError, match="no such file"):
        toksmith.train_bpe(tmp_path / "missing.txt", vocab_size=300, progress=False)
    with pytest.raises(IsADirectoryError):
        toksmith.train_bpe(tmp_path, vocab_size=300, progress=False)
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(toksmith.FormatError, match="bad.json"):
        toksmith.Tokenizer.from_file(bad)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(toksmith.FormatError, match="not UTF-8"):
        toksmith.Tokenizer.from_file(bad)


def _feed(path, data: bytes):
    """Writes data into a pipe or FIFO from a thread (the reader opens it at its own pace)."""

    def write():
        with open(path, "wb") as f:
            f.write(data)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("block", [7, 1 << 20])
def test_training_reads_pipes_and_fifos_exactly_like_files(tmp_path, monkeypatch, block):
    # Pipes are read in blocks of whole lines on the Python side; tiny blocks exercise lines
    # longer than a block, and lines cut by the reads.
    monkeypatch.setattr(train, "_STREAM_BLOCK", block)
    text = ("the quick brown fox jumps over the lazy dog\n" * 20 + "naïve café\r\n" * 7
            + "a line longer than any block " * 3 + "\n" + "no final newline").encode()
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(text)
    expected = toksmith.train_bpe(corpus, vocab_size=320, progress=False).merges
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = _feed(fifo, text)
    assert toksmith.train_bpe([fifo], vocab_size=320, progress=False).merges == expected
    writer.join(5)
    r, w = os.pipe()  # an anonymous pipe, opened through /dev/fd (as a shell's <(...) gives it)
    os.write(w, text)  # smaller than a pipe's buffer
    os.close(w)
    try:
        assert toksmith.train_bpe(f"/dev/fd/{r}", vocab_size=320, progress=False).merges == expected
    finally:
        os.close(r)
    # next to regular files, in one call: the same as the file twice
    os.mkfifo(tmp_path / "fifo2")
    writer = _feed(tmp_path / "fifo2", text)
    both = toksmith.train_bpe([corpus, tmp_path / "fifo2"], vocab_size=320, progress=False).merges
    writer.join(5)
    assert both == toksmith.train_bpe([corpus, corpus], vocab_size=320, progress=False).merges


def test_saved_files_are_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    import errno

    from toksmith import _files

    target = tmp_path / "tok.json"
    target.write_text("old")
    target.chmod(0o640)
    TOK.save(target)
    assert toksmith.Tokenizer.from_file(target).get_vocab() == TOK.get_vocab()
    assert target.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode

    def disk_full(self, *args, **kwargs):
        with open(self, "w") as f:
            f.write("partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    for save in (lambda p: TOK.save(p), lambda p: ENC.save(str(p))):
        target.write_text("old")
        with monkeypatch.context() as m:
            m.setattr(toksmith.encoding.Path, "write_text", disk_full)
            with pytest.raises(toksmith.ToksmithOSError, match="No space left"):
                save(target)
        assert target.read_text() == "old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["tok.json"]

    def interrupted(src, dst):
        raise KeyboardInterrupt

    for save in (lambda p: TOK.save(p), lambda p: ENC.save_tiktoken(p), lambda p: TOK.save_tiktoken(p)):
        with monkeypatch.context() as m:
            m.setattr(_files.os, "replace", interrupted)
            with pytest.raises(KeyboardInterrupt):
                save(target)
        assert target.read_text() == "old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["tok.json"]

    # a symlink: the file it points to is replaced; a device is written through
    link = tmp_path / "link.json"
    link.symlink_to(target)
    ENC.save_tiktoken(link)
    assert link.is_symlink() and toksmith.Encoding.from_tiktoken_file(
        str(target), pat_str=ENC.pattern).encode("hello world") == ENC.encode("hello world")
    TOK.save("/dev/null")


def test_thread_counts_are_checked_and_zero_means_all_cores():
    units = ["the cat sat on the mat\n"] * 5
    expected = toksmith.count_pieces(iterator=units, progress=False)
    assert toksmith.count_pieces(iterator=units, progress=False, num_threads=0) == expected
    with pytest.raises(toksmith.InvalidInputError, match="num_threads must be at least 0"):
        toksmith.count_pieces(iterator=units, progress=False, num_threads=-1)
    with pytest.raises(toksmith.ToksmithTypeError, match="num_threads must be an int"):
        toksmith.count_pieces(iterator=units, progress=False, num_threads=1.5)


def test_counts_too_large_for_the_engine_are_typed_errors_or_mean_everything():
    enc = toksmith.get_encoding("cl100k_base")
    it = ["hello world the cat"] * 10
    with pytest.raises(toksmith.InvalidInputError, match="vocab_size must be at most"):
        toksmith.train_bpe(iterator=iter(it), vocab_size=2**70, progress=False)
    with pytest.raises(toksmith.InvalidInputError, match="merges must be at most"):
        toksmith.merge_batch(["a b"], enc, merges=2**70)
    with pytest.raises(toksmith.InvalidInputError, match="target_length must be at most"):
        toksmith.merge_batch(["a b"], enc, target_length=2**70)
    batch = toksmith.merge_batch(["tokenizers tokenize", "detokenizers"], enc)
    ids, _ = batch.replay(2**70)  # a budget past the log's end: every merge
    assert [i.tolist() for i in ids] == [i.tolist() for i in batch.ids]
    with pytest.raises(toksmith.InvalidInputError, match="maxlen must be at most"):
        batch.surface_matrix(2**40, 0)


@pytest.mark.parametrize(
    "ranks, specials, error, message",
    [
        ({b"ab": 2**70}, {}, toksmith.InvalidInputError, r"mergeable_ranks: id \d+ of b'ab' is outside"),
        ({}, {"<s>": -1}, toksmith.InvalidInputError, r"special_tokens: id -1 of '<s>' is outside"),
        ({"ab": 300}, {}, toksmith.ToksmithTypeError, "mergeable_ranks must map bytes to int"),
        ({b"ab": 1.5}, {}, toksmith.ToksmithTypeError, "mergeable_ranks must map bytes to int"),
        ([1, 2], {}, toksmith.ToksmithTypeError, "mergeable_ranks must be a dict, not list"),
    ],
)
def test_vocabulary_ids_and_types_the_engine_cannot_hold_are_typed_errors(ranks, specials, error, message):
    byte_ranks = {bytes([b]): b for b in range(256)}
    full = {**byte_ranks, **ranks} if isinstance(ranks, dict) else ranks
    with pytest.raises(error, match=message):
        toksmith.Encoding("x", pat_str=r"\S+|\s+", mergeable_ranks=full, special_tokens=specials)


def test_token_ids_out_of_range_for_bytelm_and_lookups_are_typed_errors():
    enc = toksmith.get_encoding("cl100k_base")
    with pytest.raises(toksmith.InvalidInputError, match="eos_token_id must be at most"):
        toksmith.ByteLM(enc, None, eos_token_id=2**70, context_tokens=[1])
    with pytest.raises(toksmith.InvalidInputError, match="context_tokens must be at least 0"):
        toksmith.ByteLM(enc, None, context_tokens=[-1])
    with pytest.raises(toksmith.ToksmithTypeError, match="token must be str"):
        enc.to_tokenizer().token_to_id(5)  # type: ignore[arg-type]
