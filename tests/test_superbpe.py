"""SuperBPE training: the engine against the pure-Python reference, the stage-1 = BPE property,
the filters, round trips, and Hugging Face `tokenizers` loading the result."""

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import toksmith
from toksmith import patterns
from toksmith.reference import bytelevel
from toksmith.reference import superbpe as reference

from realtext import samples

tokenizers = pytest.importorskip("tokenizers")

STAGE1, STAGE2 = patterns.SUPERBPE_PRESETS["2025"]
PAPER1, PAPER2 = patterns.SUPERBPE_PRESETS["paper"]

words = st.sampled_from(["the", " the", " of", " a", "cat", " cat", ":", ": ", "..", "!", " ", "  ", "\t", "\n",
                         "1", "234", "5678", "é", " été", "日本", "-", "/", "'s"])
units_strategy = st.lists(st.lists(words, max_size=14).map("".join), min_size=1, max_size=20)
PRESETS = [(STAGE1, STAGE2), (PAPER1, PAPER2), (r"\S+|\s+", r"\d+")]


def train(units, vocab, transition, stages, **kw):
    s1, s2 = stages
    return toksmith.train_superbpe(iterator=units, vocab_size=vocab, transition=transition, stage1_pattern=s1,
                                   stage2_pattern=s2, progress=False, **kw)


@given(units=units_strategy, vocab=st.integers(256, 330), fraction=st.floats(0, 1), stages=st.sampled_from(PRESETS),
       max_words=st.sampled_from([None, 1, 2, 4]), colon=st.booleans())
def test_engine_equals_reference(units, vocab, fraction, stages, max_words, colon):
    assume(any(u.strip("\n") for u in units))
    t = max(256, round(fraction * vocab))
    ours = train(units, vocab, t, stages, max_words_per_token=max_words, reject_colon_space=colon)
    merges, stage1_len, unused = reference.train_superbpe(units, *stages, vocab, t, max_words=max_words,
                                                          reject_colon_space=colon)
    made = [a + b for a, b in merges]
    assume(len(made) == len(set(made)))  # the documented exception of the BPE rule (test_train)
    assert ours.merges == merges
    assert ours.training_report == {"stage1_merges": stage1_len, "unused_stage1_merges": unused}


@given(units=units_strategy, vocab=st.integers(256, 330), fraction=st.floats(0, 1))
def test_stage1_is_bpe_and_stage2_obeys_the_filters(units, vocab, fraction):
    assume(any(u.strip("\n") for u in units))
    t = max(256, round(fraction * vocab))
    sup = train(units, vocab, t, (STAGE1, STAGE2))
    bpe = toksmith.train_bpe(iterator=[line for u in units for line in u.splitlines(keepends=True)], vocab_size=t,
                             pattern=STAGE1, progress=False)
    n1 = sup.training_report["stage1_merges"]
    assert sup.merges[:n1] == bpe.merges
    for a, b in sup.merges[n1:]:
        token = a + b
        assert b": " not in token and reference.words_in(token) <= 4
    for a, b in sup.merges:
        assert b"\n" not in (a + b)[:-1], "no token continues past a newline"
    text = "".join(units)
    assert sup.decode(sup.encode(text).ids) == text


@given(units=units_strategy, vocab=st.integers(256, 320))
def test_transition_at_vocab_size_is_train_bpe(units, vocab):
    assume(any(u.strip("\n") for u in units))
    lines = [line for u in units for line in u.splitlines(keepends=True)]
    sup = train(units, vocab, vocab, (STAGE1, STAGE2))
    assert sup.merges == toksmith.train_bpe(iterator=lines, vocab_size=vocab, pattern=STAGE1, progress=False).merges
    assert sup.training_report["stage1_merges"] == len(sup.merges)


@pytest.fixture(scope="module")
def real_units():
    text = samples(300_000)
    return [line for doc in text.values() for line in doc.splitlines(keepends=True)]


@pytest.mark.parametrize("preset", ["2025", "paper"])
def test_real_text_tokenizers_loads_it_and_agrees(tmp_path, real_units, preset):
    sup = toksmith.train_superbpe(iterator=real_units, vocab_size=3000, transition=0.6, preset=preset,
                                  special_tokens=["<|endoftext|>"], progress=False)
    n1 = sup.training_report["stage1_merges"]
    assert 0 < n1 < len(sup.merges)
    superwords = [a + b for a, b in sup.merges[n1:] if reference.words_in(a + b) >= 2]
    assert superwords, "stage 2 learned no token spanning a space"
    path = tmp_path / "superbpe.json"
    sup.save(path)
    theirs = tokenizers.Tokenizer.from_file(str(path))
    ours = toksmith.Tokenizer.from_file(path)
    doc = json.loads(path.read_text())
    assert doc["decoder"]["type"] == "ByteLevel"
    held_out = "".join(samples(600_000)["english"][300_000:])
    for text in [held_out, "Answer: A\n\nBy the way, I am a fan of the Milky Way. 1234567 <|endoftext|>"]:
        assert ours.encode(text).ids == theirs.encode(text).ids
        assert ours.decode(ours.encode(text).ids) == text.replace("<|endoftext|>", "")


def test_superbpe_compresses_better_than_bpe(real_units):
    bpe = toksmith.train_bpe(iterator=real_units, vocab_size=4000, pattern=STAGE1, progress=False)
    sup = toksmith.train_superbpe(iterator=real_units, vocab_size=4000, transition=0.8, progress=False)
    held_out = samples(600_000)["english"][300_000:]
    assert len(sup.encode(held_out).ids) < 0.97 * len(bpe.encode(held_out).ids)


def test_stage2_sample_counts_a_deterministic_subset_of_lines(real_units):
    from toksmith._toksmith import CoreTrainer
    from toksmith.train import _stage

    stages = [_stage(STAGE1, "stage1"), _stage(STAGE2, "stage2")]
    full = CoreTrainer(stages, True, False, [1.0, 1.0])
    half = CoreTrainer(stages, True, False, [1.0, 0.5])
    for t in (full, half):
        t.add_units(real_units)
    (pieces_full, _), (chunks_full, _) = full.stats()
    (pieces_half, _), (chunks_half, _) = half.stats()
    assert pieces_half == pieces_full  # stage 1 sees everything
    assert 0.3 * chunks_full < chunks_half < 0.7 * chunks_full
    runs = [
        toksmith.train_superbpe(iterator=real_units, vocab_size=1500, stage2_sample=0.5, progress=False, num_threads=n)
        for n in (1, 2)
    ]
    assert runs[0].merges == runs[1].merges
    bpe = toksmith.train_bpe(iterator=real_units, vocab_size=1200, pattern=STAGE1, progress=False)
    assert runs[0].merges[: len(bpe.merges)] == bpe.merges
    with pytest.raises(ValueError, match="stage2_sample"):
        toksmith.train_superbpe(iterator=real_units, vocab_size=1500, stage2_sample=0.0, progress=False)


def test_extending_an_existing_vocabulary_keeps_its_ids(real_units):
    base = toksmith.get_encoding("cl100k_base")
    size = base.n_vocab + 300
    sup = toksmith.train_superbpe(iterator=real_units[:3000], vocab_size=size, base=base, progress=False,
                                  special_tokens=["<|endoftext|>", "<|new|>"])
    assert sup.get_vocab_size() == size  # the base's own special token is not counted twice
    assert sup.token_to_id("<|new|>") == max(sup.get_vocab().values())  # new specials come last
    vocab = sup.get_vocab()
    for token, rank in list(base.mergeable_ranks.items())[::997]:
        assert vocab[bytelevel.encode(token)] == rank
    assert vocab["<|endoftext|>"] == base.eot_token
    assert sup.training_report["stage1_merges"] == len(base.to_tokenizer().merges)
    text = "".join(real_units[3000:3200])
    theirs = tokenizers.Tokenizer.from_str(sup.to_str())
    assert sup.encode(text).ids == theirs.encode(text).ids
    assert len(sup.encode(text).ids) <= len(base.encode_ordinary(text))



def test_a_tiktoken_file_as_the_base(tmp_path, real_units):
    # A .tiktoken file holds no pattern; a base lends only its vocabulary and merges.
    small = toksmith.train_bpe(iterator=real_units[:2000], vocab_size=400, pattern=STAGE1, progress=False)
    small.save_tiktoken(tmp_path / "small.tiktoken")
    units = real_units[2000:3000]
    from_file = toksmith.train_superbpe(iterator=units, vocab_size=500, base=tmp_path / "small.tiktoken",
                                        progress=False)
    from_object = toksmith.train_superbpe(iterator=units, vocab_size=500, base=small, progress=False)
    assert from_file.merges == from_object.merges and len(from_file.merges) > len(small.merges)

def test_bad_input_is_a_clear_error(tmp_path):
    units = ["the cat sat on the mat\n"] * 3
    with pytest.raises(ValueError, match="transition"):
        toksmith.train_superbpe(iterator=units, vocab_size=300, transition=400, progress=False)
    with pytest.raises(ValueError, match="transition"):
        toksmith.train_superbpe(iterator=units, vocab_size=300, transition=1.5, progress=False)
    with pytest.raises(ValueError, match="pattern"):
        toksmith.train_superbpe(iterator=units, vocab_size=1000, stage2_pattern="(unclosed", progress=False)
    with pytest.raises(ValueError, match="transition 100 is smaller than the 256 byte tokens"):
        toksmith.train_superbpe(iterator=units, vocab_size=1000, transition=100, progress=False)
    with pytest.raises(ValueError, match="preset"):
        toksmith.train_superbpe(iterator=units, vocab_size=1000, preset="2024", progress=False)
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        toksmith.train_superbpe(iterator=units, vocab_size=300, base=str(tmp_path / "nowhere.json"), progress=False)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        toksmith.train_superbpe(iterator=units, vocab_size=300, base=str(broken), progress=False)
    with pytest.raises(ValueError, match="smaller than the base"):
        toksmith.train_superbpe(iterator=units, vocab_size=1000, base="cl100k_base", progress=False)
