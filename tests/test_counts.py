"""Count tables: shards add up to the whole corpus (exactly), training on summed tables equals
training on the corpus (BPE and SuperBPE), the compact form round-trips, and bad tables fail
clearly. No Dask here (see test_dask.py)."""

import os
import pickle
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toksmith
from toksmith import PieceCounts, distributed

from realtext import samples

# Lines with every kind of ending (and none at the end), invalid UTF-8 and long lines.
line = st.lists(
    st.sampled_from([b"the", b" cat", b"  ", b"\t", b"\r", b"12345", b"\xc3\xa9t\xc3\xa9", b"\xff", b"::", b"x" * 40]),
    max_size=8,
).map(b"".join)
corpus = st.lists(st.tuples(line, st.sampled_from([b"\n", b"\r\n", b"\n\n"])), max_size=25).map(
    lambda ls: b"".join(a + b for a, b in ls))
corpus = st.tuples(corpus, line).map(b"".join)


def write(data: bytes) -> str:
    fd, path = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


BASE = toksmith.train_bpe(iterator=["the cat sat", "été"], vocab_size=270, progress=False)


def shard_tables(path, cuts, kind, stages, url=False):
    size = os.path.getsize(path)
    bounds = [0] + sorted(min(c, size) for c in cuts) + [size]
    name = "file://" + path if url else path
    return [distributed.count_shard(kind, stages, name, s, e) for s, e in zip(bounds, bounds[1:])]


@settings(max_examples=60)
@given(data=corpus, cuts=st.lists(st.integers(0, 400), max_size=5), url=st.booleans())
def test_shards_add_up_to_the_whole_file(data, cuts, url):
    path = write(data)
    try:
        whole = toksmith.count_pieces(path, pattern="gpt2", progress=False)
        stages = whole.stages
        tables = shard_tables(path, cuts, "bpe", stages, url)
        assert sum(tables) == whole
        assert sum(reversed(tables)).to_bytes() == whole.to_bytes()  # order-free, canonical bytes
        if whole.stats()[0][0]:
            vocab = 256 + 30
            expected = toksmith.train_bpe(path, vocab_size=vocab, pattern="gpt2", progress=False).merges
            assert toksmith.train_bpe(counts=sum(tables), vocab_size=vocab, progress=False).merges == expected
    finally:
        os.unlink(path)


@settings(max_examples=40)
@given(data=corpus, cuts=st.lists(st.integers(0, 400), max_size=4), base_only=st.booleans())
def test_superbpe_shards_add_up_and_train_the_same(data, cuts, base_only):
    path = write(data)
    try:
        whole = toksmith.count_superbpe_pieces(path, stage1=not base_only, progress=False)
        tables = shard_tables(path, cuts, "superbpe", whole.stages)
        assert sum(tables) == whole
        if whole.stats()[-1][0]:
            kw = dict(vocab_size=300, transition=280, progress=False)
            if base_only:
                kw["base"] = BASE
            expected = toksmith.train_superbpe(path, **kw).merges
            assert toksmith.train_superbpe(counts=sum(tables), **kw).merges == expected
    finally:
        os.unlink(path)


def test_shards_cut_every_file_and_cover_it(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(b"x" * 1000)
    parts = distributed.shards([p, p], shard_size=300)
    assert len(distributed.shards([p], shard_size=None, n_workers=3)) == 3
    assert len(parts) == 8 and parts[0] == (str(p), 0, 250) and parts[3][2] == 1000
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        distributed.shards([tmp_path / "missing.txt"])
    with pytest.raises(FileNotFoundError, match="nothere"):
        distributed.shards(["file://" + str(tmp_path / "nothere")])
    with pytest.raises(IsADirectoryError):
        distributed.shards([tmp_path])
    with pytest.raises(ValueError, match="shard_size"):
        distributed.shards([p], shard_size=0)


@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    paths = []
    for label, text in samples(120_000).items():
        p = d / f"{label}.txt"
        p.write_text(text, encoding="utf-8")
        paths.append(str(p))
    return paths


@pytest.mark.parametrize("pattern", ["o200k", "cl100k"])
def test_real_text_sharded_counts_train_the_same_merges(real_files, pattern):
    expected = toksmith.train_bpe(real_files, vocab_size=700, pattern=pattern, progress=False)
    stages = toksmith.count_pieces(iterator=[], pattern=pattern, progress=False).stages
    tables = [distributed.count_shard("bpe", stages, *part) for part in distributed.shards(real_files, 50_000)]
    assert len(tables) > 8
    got = toksmith.train_bpe(counts=sum(tables), vocab_size=700, progress=False)
    assert got.merges == expected.merges
    assert got.get_vocab() == expected.get_vocab()


def test_iterator_counts_train_the_same(real_files):
    docs = [t for label, t in samples(120_000).items()]
    halves = [
        toksmith.count_pieces(iterator=docs[:2], progress=False),
        toksmith.count_pieces(iterator=docs[2:], progress=False),
    ]
    expected = toksmith.train_bpe(iterator=docs, vocab_size=600, progress=False).merges
    assert toksmith.train_bpe(counts=halves[0] + halves[1], vocab_size=600, progress=False).merges == expected
    sup = toksmith.count_superbpe_pieces(iterator=docs, progress=False)
    kw = dict(vocab_size=600, transition=500, progress=False)
    assert toksmith.train_superbpe(counts=sup, **kw).merges == toksmith.train_superbpe(iterator=docs, **kw).merges


def test_save_load_pickle_and_corrupt_files(tmp_path, real_files):
    table = toksmith.count_superbpe_pieces(real_files, progress=False)
    path = tmp_path / "t.counts"
    table.save(path)
    loaded = PieceCounts.load(path)
    assert loaded == table and loaded.stages == table.stages and loaded.kind == "superbpe"
    assert pickle.loads(pickle.dumps(table)) == table
    assert loaded.to_dict(1) == table.to_dict(1)
    raw = path.read_bytes()
    # Compact: much smaller than the pieces themselves.
    assert len(raw) < sum(len(k) + 8 for stage in (0, 1) for k in table.to_dict(stage)) / 2
    for name, data in [("truncated", raw[: len(raw) // 2]), ("tail", raw[:-3]), ("empty", b""),
                       ("magic", b"NOTCOUNT" + raw[8:]), ("version", raw[:8] + b"\x09" + raw[9:]),
                       ("flipped", raw[:-10] + bytes([raw[-10] ^ 0xFF]) + raw[-9:]), ("longer", raw + b"\0")]:
        bad = tmp_path / f"{name}.counts"
        bad.write_bytes(data)
        with pytest.raises(ValueError, match=f"{name}.counts"):
            PieceCounts.load(bad)
    with pytest.raises(FileNotFoundError, match="nope.counts"):
        PieceCounts.load(tmp_path / "nope.counts")
    rebuild, (state,) = table.__reduce__()
    assert rebuild(state) == table
    with pytest.raises(ValueError, match="pickled PieceCounts.*truncated"):
        rebuild(state[: len(state) // 2])
    assert PieceCounts.from_bytes(table.to_bytes(0)) == table


def test_incompatible_tables_and_arguments_are_refused(real_files):
    o200k = toksmith.count_pieces(real_files[:1], progress=False)
    gpt2 = toksmith.count_pieces(real_files[:1], pattern="gpt2", progress=False)
    sup = toksmith.count_superbpe_pieces(real_files[:1], progress=False)
    sup2 = toksmith.count_superbpe_pieces(real_files[:1], stage1=False, progress=False)
    with pytest.raises(ValueError, match="different pre-tokenizers"):
        o200k + gpt2
    with pytest.raises(ValueError, match="different kinds"):
        o200k + sup
    with pytest.raises(ValueError, match="stages"):
        sup + sup2
    with pytest.raises(TypeError):
        o200k + 1
    assert 0 + o200k is o200k and sum([o200k, o200k]).stats()[0][1] == 2 * o200k.stats()[0][1]
    with pytest.raises(ValueError, match="made with pre-tokenizer stages"):
        toksmith.train_bpe(counts=o200k, pattern="gpt2", vocab_size=300, progress=False)
    with pytest.raises(ValueError, match="count_pieces"):
        toksmith.train_bpe(counts=sup, vocab_size=300, progress=False)
    with pytest.raises(ValueError, match="count_superbpe_pieces"):
        toksmith.train_superbpe(counts=o200k, vocab_size=400, progress=False)
    with pytest.raises(ValueError, match="stage-2 chunks only"):
        toksmith.train_superbpe(counts=sup2, vocab_size=400, progress=False)
    with pytest.raises(ValueError, match="not both"):
        toksmith.train_bpe(real_files, counts=o200k, vocab_size=300, progress=False)
    with pytest.raises(TypeError, match="PieceCounts"):
        toksmith.train_bpe(counts={b"a": 1}, vocab_size=300, progress=False)
    with pytest.raises(TypeError, match="PieceCounts"):
        toksmith.train_superbpe(counts={b"a": 1}, vocab_size=400, progress=False)
    # Training copies a table it is given: the caller's table is unchanged and reusable.
    before = o200k.stats()
    toksmith.train_bpe(counts=o200k, vocab_size=300, progress=False)
    assert o200k.stats() == before
    with pytest.raises(ValueError, match="empty corpus"):
        toksmith.train_bpe(counts=toksmith.count_pieces(iterator=[], progress=False), vocab_size=300, progress=False)
    with pytest.raises(ValueError, match="client="):
        toksmith.count_pieces(iterator=["a"], client=object())


def test_pruning_is_a_bounded_approximation(real_files):
    table = toksmith.count_pieces(real_files, progress=False)
    counts = table.to_dict()
    kept = table.pruned(min_frequency=3).to_dict()
    assert kept == {k: v for k, v in counts.items() if v >= 3}
    top = table.pruned(top_k=50).to_dict()
    assert len(top) == 50 and min(top.values()) >= sorted(counts.values(), reverse=True)[49]
    with pytest.raises(ValueError, match="min_frequency"):
        table.pruned(min_frequency=0)
    # Training with a per-shard memory guard runs on the pruned table.
    tok = toksmith.train_bpe(real_files, vocab_size=400, shard_min_frequency=3, progress=False)
    assert tok.merges == toksmith.train_bpe(counts=table.pruned(3), vocab_size=400, progress=False).merges


def test_a_binary_shard_names_its_file(tmp_path):
    p = tmp_path / "bin.txt"
    p.write_bytes(b"abc\n" * 10 + b"\0\n")
    stages = toksmith.count_pieces(iterator=[], progress=False).stages
    with pytest.raises(ValueError, match="bin.txt.*binary"):
        distributed.count_shard("bpe", stages, str(p), 0, 1000)
    with pytest.raises(ValueError, match="bin.txt.*binary"):
        distributed.count_shard("bpe", stages, "file://" + str(p), 0, 1000)
