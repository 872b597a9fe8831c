"""Data-mixture inference: the engine's replay equals the reference's, the lazy program reaches
the full program's optimum, and known mixtures are recovered."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import toksmith
from toksmith import mixture, patterns
from toksmith.errors import InvalidInputError, MissingDependencyError, ToksmithFileNotFoundError
from toksmith.reference import mixture as ref
from toksmith.reference.bytelevel import decode
from toksmith.reference.train import count_pieces

from realtext import DATA, documents, samples

pytest.importorskip("scipy")

TRAIN_TEXT = ("the cat sat on the mat\nla chatte est sur le tapis\nдом и кот\n" * 20 +
              "def f(x):\n    return x + 1\n" * 15)


@pytest.fixture(scope="module")
def small() -> tuple[toksmith.Tokenizer, list[int], list[tuple[int, int, int]]]:
    """A tokenizer trained on a little text, with its byte ids and merges as id triples (read
    from its tokenizer.json, not from the engine)."""
    tok = toksmith.train_bpe(iterator=TRAIN_TEXT.splitlines(keepends=True), vocab_size=330, pattern="o200k",
                             progress=False)
    doc = json.loads(tok.to_str())
    vocab = {decode(s): i for s, i in doc["model"]["vocab"].items()}
    byte_ids = [vocab[bytes([b])] for b in range(256)]
    steps = []
    for m in doc["model"]["merges"]:
        a, b = (decode(x) for x in (m.split(" ") if isinstance(m, str) else m))
        steps.append((vocab[a], vocab[b], vocab[a + b]))
    return tok, byte_ids, steps


def reference_counts(texts: list[str]) -> dict[bytes, int]:
    return count_pieces((line for t in texts for line in t.splitlines(keepends=True)), patterns.resolve("o200k"))


category_texts = st.lists(
    st.lists(st.text(alphabet="the catsonmlpuйдомк \n():+1x", max_size=60), min_size=1, max_size=4),
    min_size=1, max_size=4)


@given(category_texts, st.integers(1, 6), st.integers(1, 70))
def test_engine_replay_equals_reference(small, categories, top_k, merges):
    tok, byte_ids, steps = small
    names = [f"c{i}" for i in range(len(categories))]
    r = mixture.replay(tok, dict(zip(names, categories)), merges=merges, top_k=top_k)
    expected = ref.replay([reference_counts(c) for c in categories], byte_ids, steps[:merges], top_k)
    assert r.bytes == expected.bytes
    assert r.merged.tolist() == expected.merged
    assert r.bound.tolist() == expected.bound
    got = [(int(t), (int(p[0]), int(p[1])), c.tolist()) for t, p, c in zip(r.row_step, r.row_pair, r.row_counts)]
    assert got == expected.rows


def full_objective(categories: list[list[str]], byte_ids, steps) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
    rows, row_steps = ref.full_program([reference_counts(c) for c in categories], byte_ids, steps)
    res = ref.solve_full(rows, row_steps, len(categories), len(steps))
    assert res.status == 0
    return float(res.fun), (np.asarray(rows), np.asarray(row_steps, dtype=np.int64))


@given(category_texts, st.integers(1, 40), st.sampled_from([1, 3, 10_000]), st.booleans())
def test_lazy_program_reaches_the_full_optimum(small, categories, merges, top_k, exact):
    """Lazy constraint generation ends at the optimum of the program with every pair at every
    step (built densely by the reference): with every pair listed (a large top_k), or with few
    listed and the exact passes finding the rest."""
    tok, byte_ids, steps = small
    names = [f"c{i}" for i in range(len(categories))]
    if not exact and top_k < 10_000:
        top_k = 10_000
    result = toksmith.infer_mixture(tok, dict(zip(names, categories)), merges=merges, top_k=top_k, exact=exact)
    optimum, (rows, row_steps) = full_objective(categories, byte_ids, steps[:merges])
    assert result.uncertified_steps == 0
    # Rows count as violated past 1e-6 of the largest per-byte count (at most 1 per byte).
    slop = 1e-6 * merges
    assert result.total_slack == pytest.approx(optimum, abs=slop)
    # The lazy answer is optimal for the full program too: its slacks there add up to the optimum.
    alpha = np.array([result[n] for n in names])
    assert sum(result.values()) == pytest.approx(1.0)
    need = np.zeros(len(steps[:merges]))
    if len(rows):
        np.maximum.at(need, row_steps, rows @ alpha)
    assert need.sum() == pytest.approx(optimum, abs=slop)


def test_exact_copies_are_recovered_exactly():
    """Training text made of whole copies of each sample: the true mixture explains every merge
    (no slack), and it is the answer."""
    s = samples(60_000)
    cats = {"english": s["english"], "python": s["python"], "c": s["c"], "man": s["multilingual"]}
    copies = {"english": 3, "python": 2, "c": 1, "man": 2}
    lines = [line for n, t in cats.items() for line in t.splitlines(keepends=True) * copies[n]]
    tok = toksmith.train_bpe(iterator=lines, vocab_size=800, progress=False)
    sizes = {n: len(t.encode("utf-8")) * copies[n] for n, t in cats.items()}
    result = toksmith.infer_mixture(tok, {n: [t] for n, t in cats.items()}, merges=500, top_k=64)
    assert result.total_slack == pytest.approx(0.0, abs=1e-9)
    for n in cats:
        assert result[n] == pytest.approx(sizes[n] / sum(sizes.values()), abs=1e-4)


def man_pages() -> dict[str, str]:
    """The shipped man-page excerpts and samples in two categories: German and French, and
    Japanese, Chinese and Russian."""
    text = (DATA / "multilingual.txt").read_text(encoding="utf-8")
    out = {"man_latin": "", "man_other": ""}
    for block in re.split(r"(?m)^(?=\.TH )", text):
        out["man_other" if re.search("[\u0400-\u04ff\u3040-\u30ff\u4e00-\u9fff]", block) else "man_latin"] += block
    shipped = Path(toksmith.__file__).parent / "samples"
    out["man_latin"] += "".join((shipped / f"{lang}.txt").read_text(encoding="utf-8") for lang in ("de", "fr"))
    out["man_other"] += "".join((shipped / f"{lang}.txt").read_text(encoding="utf-8") for lang in ("ja", "ru", "zh"))
    return out


def halves(text: str, seed: int) -> tuple[str, str]:
    """Runs of lines (about 100 characters) of ``text`` shuffled, then dealt alternately into two
    disjoint halves from the same distribution. (Whole documents dealt this way differ by topic
    at this scale: measured errors then reach 6 points, see docs/mixture.md.)"""
    docs = documents(text, 100)
    random.Random(seed).shuffle(docs)
    return "".join(docs[0::2]), "".join(docs[1::2])


def test_a_known_mixture_is_recovered_from_disjoint_samples():
    """Train on a known mixture of five categories (one half of each category's text); infer it
    from the other half, within 2 points. (Small scale; benches/mixture.py measures larger
    corpora.)"""
    texts = {**samples(2_000_000), **man_pages()}
    truth = {"english": 0.3, "python": 0.25, "c": 0.2, "man_latin": 0.1, "man_other": 0.15}
    train, held_out = {}, {}
    for n in truth:
        train[n], held_out[n] = halves(texts[n], seed=1)
    total = min(len(train[n].encode("utf-8")) / share for n, share in truth.items())
    lines = []
    for n, share in truth.items():
        part = train[n].encode("utf-8")[: int(share * total)].decode("utf-8", errors="ignore")
        lines.extend(part.splitlines(keepends=True))
    tok = toksmith.train_bpe(iterator=lines, vocab_size=2256, progress=False)
    result = toksmith.infer_mixture(tok, {n: [held_out[n]] for n in truth}, merges=1000)
    errors = {n: abs(result[n] - share) for n, share in truth.items()}
    assert max(errors.values()) <= 0.02, errors
    assert result.merges == 1000 and result.uncertified_steps == 0 and result.constraints > 0


def test_inputs_are_checked(small, tmp_path):
    tok = small[0]
    with pytest.raises(InvalidInputError):
        toksmith.infer_mixture(tok, {})
    with pytest.raises(InvalidInputError):
        toksmith.infer_mixture(tok, {"a": []})
    with pytest.raises(ToksmithFileNotFoundError, match="no_such.txt"):
        toksmith.infer_mixture(tok, {"a": [str(tmp_path / "no_such.txt")]})
    with pytest.raises(InvalidInputError):
        toksmith.infer_mixture(tok, {"a": ["text"]}, merges=0)
    path = tmp_path / "a.txt"
    path.write_text("the cat sat\n" * 50, encoding="utf-8")
    # A path, as str or Path, is read as a file; other strings are text.
    by_path = mixture.replay(tok, {"a": [path]}, merges=5)
    by_text = mixture.replay(tok, {"a": ["the cat sat\n" * 50]}, merges=5)
    assert by_path.bytes == by_text.bytes == [600]
    assert by_path.merged.tolist() == by_text.merged.tolist()
    # The tokenizer as a tokenizer.json path, and as an Encoding, replays the same.
    saved = tmp_path / "tok.json"
    tok.save(str(saved))
    assert mixture.replay(str(saved), {"a": [path]}, merges=5).merged.tolist() == by_path.merged.tolist()
    assert mixture.replay(tok.to_encoding(), {"a": [path]}, merges=5).merged.tolist() == by_path.merged.tolist()


def test_bundled_encodings_and_missing_scipy(monkeypatch):
    result = toksmith.infer_mixture("cl100k_base", {"en": [samples()["english"][:50_000]],
                                                    "py": [samples()["python"][:50_000]]}, merges=200)
    assert set(result) == {"en", "py"} and sum(result.values()) == pytest.approx(1.0)
    assert result.merges == 200 and result.to_dict()["sample_bytes"]["en"] > 0
    import builtins

    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("no scipy here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(MissingDependencyError, match="toksmith\\[mixture\\]"):
        toksmith.infer_mixture("cl100k_base", {"en": ["hello"]})
