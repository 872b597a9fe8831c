"""BPE training: the engine against tokenizers' BpeTrainer and the pure-Python reference."""

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import toksmith
from toksmith import patterns
from toksmith.reference import pcre_to_onig
from toksmith.reference import train as reference

from realtext import documents, samples

tokenizers = pytest.importorskip("tokenizers")
from tokenizers import pre_tokenizers, trainers  # noqa: E402


def hf_train(units, vocab_size, pattern, min_frequency=0, specials=()):
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(tokenizers.Regex(pcre_to_onig(pattern)), "isolated"),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=list(specials))
    tok.train_from_iterator(units, trainer)
    return tok


def merges_of(tokenizer) -> list:
    return [tuple(m) for m in json.loads(tokenizer.to_str())["model"]["merges"]]


units_strategy = st.lists(
    st.lists(st.sampled_from(["a", "b", "ab", "c", " ", "\n", "é", "1", "22", "'s", "A", "!"]), max_size=15).map(
        "".join
    ),
    min_size=1,
    max_size=25,
)
PATTERNS = [patterns.GPT2, patterns.CL100K, patterns.O200K, patterns.LLAMA3, r"\S+|\s+"]


@given(
    units=units_strategy,
    vocab=st.integers(256, 300),
    pattern=st.sampled_from(PATTERNS),
    min_frequency=st.integers(0, 3),
)
def test_engine_equals_tokenizers(units, vocab, pattern, min_frequency):
    assume(any(units))  # an empty corpus is an error here (tokenizers returns an empty model)
    ours = toksmith.train_bpe(
        iterator=units, vocab_size=vocab, pattern=pattern, min_frequency=min_frequency, progress=False
    )
    theirs = hf_train(units, vocab, pattern, min_frequency)
    assert merges_of(ours) == merges_of(theirs)
    # Same tokens; ids differ by design (bytes keep their byte values here).
    assert set(ours.get_vocab()) == set(theirs.get_vocab())


@given(units=units_strategy, vocab=st.integers(256, 300), pattern=st.sampled_from(PATTERNS))
def test_engine_equals_reference(units, vocab, pattern):
    assume(any(units))
    ours = toksmith.train_bpe(iterator=units, vocab_size=vocab, pattern=pattern, progress=False)
    want = reference.train_bpe(reference.count_pieces(units, pattern), vocab)
    made = [a + b for a, b in want]
    assume(len(made) == len(set(made)))  # the documented exception: one string made twice
    assert ours.merges == want


def test_real_text_equals_tokenizers():
    text = samples(400_000)
    units = [line for doc in text.values() for line in doc.splitlines(keepends=True)]
    for vocab in [2000, 6000]:
        ours = toksmith.train_bpe(iterator=units, vocab_size=vocab, pattern="o200k", progress=False,
                                  special_tokens=["<|endoftext|>"])
        theirs = hf_train(units, vocab, patterns.O200K, specials=["<|endoftext|>"])
        assert merges_of(ours) == merges_of(theirs)
        assert ours.encode("Trained tokenizers encode: ünïcode 12345").ids == \
            toksmith.Tokenizer.from_str(ours.to_str()).encode("Trained tokenizers encode: ünïcode 12345").ids


def test_files_and_iterator_agree_and_tokenizers_loads_the_result(tmp_path):
    docs = documents(samples()["english"][:200_000])
    path = tmp_path / "corpus.txt"
    path.write_text("".join(docs), encoding="utf-8")
    from_file = toksmith.train_bpe(str(path), vocab_size=1200, pattern="cl100k", progress=False,
                                   special_tokens=["<|endoftext|>", "<|pad|>"])
    units = path.read_text(encoding="utf-8").splitlines(keepends=True)
    from_iter = toksmith.train_bpe(iterator=units, vocab_size=1200, pattern="cl100k", progress=False,
                                   special_tokens=["<|endoftext|>", "<|pad|>"])
    assert from_file.merges == from_iter.merges
    hf = hf_train(units, 1200, patterns.CL100K, specials=["<|endoftext|>", "<|pad|>"])
    assert merges_of(from_file) == merges_of(hf)
    # Special tokens come after the learned tokens; the file loads in tokenizers and as tiktoken.
    vocab = from_file.get_vocab()
    assert vocab["<|endoftext|>"] == 1198 and vocab["<|pad|>"] == 1199 and len(vocab) == 1200
    out = tmp_path / "trained.json"
    from_file.save(out)
    loaded = tokenizers.Tokenizer.from_file(str(out))
    text = "A held-out sentence <|endoftext|> with 1234567 digits."
    assert loaded.encode(text).ids == from_file.encode(text).ids
    enc = from_file.to_encoding()
    assert enc.encode(text, allowed_special="all") == from_file.encode(text).ids
    assert enc.decode(enc.encode(text, allowed_special="all")) == text


def test_invalid_utf8_is_replaced_and_binary_files_are_refused(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 caf\xe9 caf\xe9\n".encode("latin-1"))
    tok = toksmith.train_bpe(str(bad), vocab_size=260, progress=False)
    assert any(b"\xef\xbf\xbd" in a + b for a, b in tok.merges)  # U+FFFD
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02 data \x00")
    with pytest.raises(ValueError, match="blob.bin: looks like a binary file"):
        toksmith.train_bpe(str(binary), vocab_size=300, progress=False)


@pytest.mark.parametrize(
    "kwargs, error, exc",
    [
        ({"files": "/nonexistent/corpus.txt"}, "no such file", FileNotFoundError),
        ({"iterator": []}, "empty corpus", ValueError),
        ({"iterator": ["x"], "vocab_size": 200}, "vocab_size 200 is too small", ValueError),
        ({"iterator": ["x"], "vocab_size": 256, "special_tokens": ["<s>"]}, "too small", ValueError),
        ({"iterator": ["x"], "pattern": "(unclosed"}, "invalid pattern", ValueError),
        ({"iterator": [b"bytes"]}, "must yield str", TypeError),
        ({}, "files=", ValueError),
    ],
)
def test_bad_input(kwargs, error, exc):
    kwargs.setdefault("vocab_size", 300)
    with pytest.raises(exc, match=error):
        toksmith.train_bpe(progress=False, **kwargs)


def test_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        toksmith.train_bpe(str(tmp_path), vocab_size=300, progress=False)


def test_save_tiktoken_of_a_trained_tokenizer(tmp_path):
    units = samples()["english"][:100_000].splitlines(keepends=True)
    tok = toksmith.train_bpe(iterator=units, vocab_size=700, pattern="o200k", progress=False, special_tokens=["<|e|>"])
    path = tmp_path / "trained.tiktoken"
    tok.save_tiktoken(path)
    enc = toksmith.Encoding.from_tiktoken_file(str(path), pat_str=patterns.O200K, special_tokens={"<|e|>": 699})
    text = "".join(units[-50:]) + "<|e|>"
    assert enc.encode(text, allowed_special="all") == tok.encode(text).ids


def test_ctrl_c_stops_training_with_keyboard_interrupt():
    import subprocess
    import sys

    # 400k random words and a huge vocabulary: seconds of merging; Ctrl-C arrives after 0.5 s,
    # so an engine that ignored it would print 'finished'.
    code = (
        "import os, random, signal, threading, time, toksmith\n"
        # Python's handler even where the test runner was started with SIGINT ignored.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "random.seed(0)\n"
        "units = [''.join(random.choices('abcdefghijklmnopqrstuvwxyz', k=12)) for _ in range(400_000)]\n"
        "threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        "start = time.time()\n"
        "try:\n"
        "    toksmith.train_bpe(iterator=units, vocab_size=150_000, progress=False)\n"
        "    print('finished after', round(time.time() - start, 1))\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted after', round(time.time() - start, 1))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.startswith("interrupted"), out
