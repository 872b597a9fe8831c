"""Byte-level probabilities (toksmith.ByteLM): the Rust engine against the pure-Python cover
algorithm, the brute-force oracle, and an exact push-forward LM, on random tiny vocabularies."""

import itertools
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toksmith
from toksmith import ByteEnsemble, ByteLM
from toksmith.reference import bytelm as ref
from toksmith.reference.encode import ReferenceEncoder

# Each example builds a vocabulary, enumerates an oracle and runs the pure-Python reference: few
# examples per profile keep this file near 30 s under "ci".
EXAMPLES = {"ci": 12, "dev": 6, "thorough": 200}.get(os.environ.get("TOKSMITH_HYPOTHESIS", "ci"), 12)
few = settings(max_examples=EXAMPLES, deadline=None)

ALPHABET = ["a", "b", " ", "é"]
ALPHABET_BYTES = {b for ch in ALPHABET for b in ch.encode()}
PATTERNS = {
    "none": r"[\s\S]+",
    "split": r" ?[^\s]+|\s+",
    "lookahead": r" ?[^\s]+|\s+(?!\S)|\s+",
    "classes": r" ?[ab]+| ?é+|\s+(?!\S)|\s+",
    # The known patterns run on the hand-written lexer, and ByteLM tries the tokens that
    # they cannot tell apart as one group (the other patterns: token by token).
    "o200k": toksmith.patterns.O200K,
    "cl100k": toksmith.patterns.CL100K,
}
MAX_TOKEN = 3
DEPTH = 3  # probe strings of up to three characters: BPE can look that far past a token here (a
# hypothesis-found vocabulary keeps a lone 0xC3 as the first token of "é é " only because
# 0xA9 + " " and then that + 0xC3 merge first; two characters of probes miss it)


class Tiny:
    """A random tiny byte-level BPE vocabulary over ALPHABET (plus the 256 byte tokens), with
    end-of-text and BOS specials."""

    def __init__(self, seed: int, pattern: str, n_merges: int):
        rng = np.random.default_rng(seed)
        self.ranks = {bytes([b]): b for b in range(256)}
        pool = [bytes([b]) for b in sorted(ALPHABET_BYTES)]
        for _ in range(200):
            if len(self.ranks) >= 256 + n_merges:
                break
            t = pool[rng.integers(len(pool))] + pool[rng.integers(len(pool))]
            if t not in self.ranks and len(t) <= MAX_TOKEN:
                self.ranks[t] = len(self.ranks)
                pool.append(t)
        self.V = len(self.ranks)
        self.eos, self.bos = self.V, self.V + 1
        self.n = self.V + 2
        self.pattern = PATTERNS[pattern]
        self.enc = toksmith.Encoding("tiny", pat_str=self.pattern, mergeable_ranks=self.ranks,
                                     special_tokens={"<|eot|>": self.eos, "<|bos|>": self.bos})
        self.ref = ReferenceEncoder(self.pattern, self.ranks)
        # Tokens made of the alphabet's bytes only: the others get probability 0 from the LMs.
        self.vocab = {i: t for t, i in self.ranks.items() if set(t) <= ALPHABET_BYTES}

    def blm(self, lm, **kw):
        return ByteLM(
            self.enc, lm, eos_token_id=self.eos, context_tokens=[self.bos], probes=ALPHABET, probe_depth=DEPTH, **kw
        )

    def leaky_lm(self, seed: int):
        """A random token bigram LM that puts mass on invalid sequences too."""
        rng = np.random.default_rng(seed)
        logits = rng.normal(size=(self.n, self.n)) * 1.5
        allowed = np.full(self.n, -np.inf)
        allowed[list(self.vocab)] = 0.0
        allowed[self.eos] = 0.0
        logits = logits + allowed
        table = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)

        def lm(prefixes):
            return np.stack([table[p[-1]] for p in prefixes])
        return lm


def prefixes_of(max_bytes: int):
    """Every byte prefix (up to max_bytes) of strings over ALPHABET, partial 'é' included."""
    out = set()
    for n in range(max_bytes + 1):
        for chars in itertools.product(ALPHABET, repeat=n):
            s = "".join(chars).encode()
            for k in range(min(len(s), max_bytes) + 1):
                out.add(s[:k])
    return sorted(out)


def oracle_valid(tiny: Tiny, max_chars: int):
    """The valid sequences for the oracle, via the engine's batch encoder (itself tested equal to
    the reference encoder in test_reference.py)."""
    texts = ["".join(c) for n in range(max_chars + 1) for c in itertools.product(ALPHABET, repeat=n)]
    out = set()
    for ids in tiny.enc.encode_ordinary_batch(texts):
        ids = tuple(ids)
        for k in range(len(ids) + 1):
            out.add(ids[:k])
    return out


tiny_settings = st.tuples(st.integers(0, 2**32 - 1), st.sampled_from(sorted(PATTERNS)), st.integers(2, 9))


@few
@given(tiny_settings, st.integers(0, 2**32 - 1), st.data())
def test_leaky_lm_equals_oracle_and_reference(params, lm_seed, data):
    tiny = Tiny(*params)
    lm = tiny.leaky_lm(lm_seed)
    blm = tiny.blm(lm)
    valid = oracle_valid(tiny, 3 + MAX_TOKEN + 1)
    xs = data.draw(st.lists(st.sampled_from(prefixes_of(3)), min_size=1, max_size=4, unique=True))
    for x in xs:
        got = blm.state(x).logprobs()
        assert got.shape == (257,)
        assert abs(np.exp(got).sum() - 1) < 1e-12
        oracle = ref.brute_force_next_byte_logprobs(tiny.ref.encode_ordinary, tiny.vocab, lm, x, valid,
                                                    context=[tiny.bos], eos=tiny.eos)
        assert np.abs(np.exp(got) - np.exp(oracle)).max() < 1e-9, x
        cover = ref.cover_next_byte_logprobs(tiny.ref.encode_ordinary, tiny.vocab, lm, x, context=[tiny.bos],
                                             eos=tiny.eos, probes=ALPHABET, depth=DEPTH)
        assert np.abs(np.exp(got) - np.exp(cover)).max() < 1e-12, x


def pushforward(tiny: Tiny, seed: int, max_bytes: int = 6):
    source = ref.MarkovSource(ALPHABET, max_bytes, seed=seed)
    lm = ref.PushForwardLM(source, tiny.enc.encode_ordinary, tiny.n, tiny.eos, context=[tiny.bos])
    return source, lm


@few
@given(tiny_settings, st.integers(0, 2**32 - 1))
def test_pushforward_lm_recovers_the_source(params, source_seed):
    tiny = Tiny(*params)
    source, lm = pushforward(tiny, source_seed)
    blm = tiny.blm(lm)
    for x in prefixes_of(3):
        if source.prefix_mass(x) == 0:
            continue
        got = np.exp(blm.state(x).logprobs())
        assert np.abs(got - source.next_byte_probs(x)).max() < 1e-9, x


def naive_next_byte_probs(tiny: Tiny, lm, x: bytes) -> np.ndarray:
    """Encode the prompt, read one token: the first byte of each token (no covers)."""
    row = np.exp(lm([[tiny.bos] + tiny.enc.encode_ordinary(x.decode())])[0])
    out = np.zeros(257)
    for i, t in tiny.vocab.items():
        out[t[0]] += row[i]
    out[256] += row[tiny.eos]
    return out / out.sum()


def test_naive_prompting_is_far_off_where_bytelm_is_exact():
    tiny = Tiny(3, "lookahead", 8)
    source, lm = pushforward(tiny, 5)
    blm = tiny.blm(lm)
    naive_err = exact_err = 0.0
    for x in prefixes_of(3):
        try:
            x.decode()
        except UnicodeDecodeError:
            continue
        if source.prefix_mass(x) == 0:
            continue
        truth = source.next_byte_probs(x)
        naive_err = max(naive_err, np.abs(naive_next_byte_probs(tiny, lm, x) - truth).max())
        exact_err = max(exact_err, np.abs(np.exp(blm.state(x).logprobs()) - truth).max())
    assert exact_err < 1e-9
    assert naive_err > 0.1


@few
@given(tiny_settings, st.integers(0, 2**32 - 1))
def test_chain_rule_gives_the_source_probability(params, source_seed):
    tiny = Tiny(*params)
    source, lm = pushforward(tiny, source_seed)
    blm = tiny.blm(lm)
    for s, p in list(source.support.items())[:40]:
        assert math.isclose(blm.logprob(s, eos=True), math.log(p), rel_tol=0, abs_tol=1e-9)


@few
@given(tiny_settings, st.integers(0, 2**32 - 1), st.sampled_from(prefixes_of(4)))
def test_incremental_equals_scratch_and_split_does_not_matter(params, lm_seed, text):
    tiny = Tiny(*params)
    blm = tiny.blm(tiny.leaky_lm(lm_seed))
    scratch = [blm.state(text[:k]).logprobs() for k in range(len(text) + 1)]
    for cut in range(len(text) + 1):
        st_ = blm.state(text[:cut])
        for k in range(cut, len(text) + 1):
            got = st_.logprobs()
            assert np.abs(np.exp(got) - np.exp(scratch[k])).max() < 1e-12
            if k < len(text):
                st_.push(text[k:k + 1])
    # Pushing several bytes at once is the same as one at a time.
    st_ = blm.state(text[:1])
    st_.push(text[1:])
    assert np.abs(np.exp(st_.logprobs()) - np.exp(scratch[-1])).max() < 1e-12


def test_lookahead_prefix_that_is_not_canonical_still_counts():
    # The research notes' example: with \s+(?!\S), enc("  aa") = [" ", " ", "aa"] although
    # enc("  ") = ["  "]: [" ", " "] is a valid prefix, and a round-trip check would drop it.
    ranks = {bytes([b]): b for b in range(256)}
    for t in [b"  ", b"aa", b" a", b"   "]:
        ranks[t] = len(ranks)
    V = len(ranks)
    pattern = r" ?a+|\s+(?!\S)|\s+"
    enc = toksmith.Encoding(
        "la", pat_str=pattern, mergeable_ranks=ranks, special_tokens={"<|eot|>": V, "<|bos|>": V + 1}
    )
    assert enc.encode_ordinary("  aa") == [32, 32, ranks[b"aa"]]
    assert enc.encode_ordinary("  ") == [ranks[b"  "]]
    source = ref.MarkovSource(["a", " "], 7, seed=11)
    lm = ref.PushForwardLM(source, enc.encode_ordinary, V + 2, V, context=[V + 1])
    blm = ByteLM(enc, lm, eos_token_id=V, context_tokens=[V + 1], probes=["a", " "], probe_depth=2)
    for x in [b" ", b"  ", b"  a", b" a ", b"a  "]:
        assert np.abs(np.exp(blm.state(x).logprobs()) - source.next_byte_probs(x)).max() < 1e-9


def test_prompt_ending_inside_a_character():
    tiny = Tiny(7, "classes", 9)
    source, lm = pushforward(tiny, 2)
    blm = tiny.blm(lm)
    x = "aé".encode()[:-1]
    got = np.exp(blm.state(x).logprobs())
    assert got[0xA9] == pytest.approx(1.0, abs=1e-12)
    assert np.abs(got - source.next_byte_probs(x)).max() < 1e-9


# ------------------------------------------------------------------ API, sampling, ensembles


def test_generate_is_deterministic_and_greedy_follows_argmax():
    tiny = Tiny(1, "lookahead", 6)
    _, lm = pushforward(tiny, 4)
    blm = tiny.blm(lm)
    a = blm.generate(b"a", 5, seed=3)
    assert a == blm.generate(b"a", 5, seed=3)
    greedy = blm.generate(b"a", 4, temperature=0)
    st_ = blm.state(b"a")
    for b in greedy:
        lp = st_.logprobs()
        assert int(np.argmax(lp)) == b
        st_.push(bytes([b]))
    assert len(blm.generate(b"a", 3, top_p=0.5, seed=1)) <= 3


def test_generated_bytes_follow_the_source_distribution():
    # Byte-by-byte sampling from the push-forward LM reproduces the source's strings.
    tiny = Tiny(2, "split", 6)
    source, lm = pushforward(tiny, 8, max_bytes=3)
    blm = tiny.blm(lm)
    counts: dict[bytes, int] = {}
    n = 400
    for i in range(n):
        rng = np.random.default_rng(i)
        st_ = blm.state(b"")
        out = b""
        while True:
            p = np.exp(st_.logprobs())
            b = int(rng.choice(257, p=p / p.sum()))
            if b == 256:
                break
            out += bytes([b])
            st_.push(bytes([b]))
        counts[out] = counts.get(out, 0) + 1
    # Chi-square over strings with expected count >= 5.
    chi2, dof = 0.0, -1
    for s, p in source.support.items():
        if p * n >= 5:
            chi2 += (counts.get(s, 0) - p * n) ** 2 / (p * n)
            dof += 1
    assert dof > 2
    assert chi2 < dof + 6 * math.sqrt(2 * dof)


def test_ensemble_of_push_forwards_through_different_tokenizers_is_the_source():
    a, b = Tiny(1, "lookahead", 8), Tiny(2, "none", 5)
    source = ref.MarkovSource(ALPHABET, 6, seed=9)
    lms = [ref.PushForwardLM(source, t.enc.encode_ordinary, t.n, t.eos, context=[t.bos]) for t in (a, b)]
    models = [t.blm(lm) for t, lm in zip((a, b), lms)]
    for mode in ("mix", "product"):
        ens = ByteEnsemble(models, mode=mode)
        for x in [b"", b"a", b"a ", "é".encode()[:1], b" b"]:
            if source.prefix_mass(x) == 0:
                continue
            assert np.abs(np.exp(ens.next_byte_logprobs(x)) - source.next_byte_probs(x)).max() < 1e-9
    # Every member is exact, so any mixture's log-likelihood is the source's.
    ens = ByteEnsemble(models, weights=[0.3, 0.7])
    s = next(iter(k for k in source.support if len(k) >= 3))
    assert math.isclose(ens.logprob(s, eos=True), math.log(source.support[s]), abs_tol=1e-9)


def test_ensemble_member_that_cannot_take_a_byte_drops_out_of_a_mix_and_refuses_it_in_a_product():
    a, b = Tiny(1, "split", 6), Tiny(2, "split", 6)
    # Source "a" never makes "é"; source "b" does.
    sources = [ref.MarkovSource(["a", "b", " "], 5, seed=3), ref.MarkovSource(ALPHABET, 5, seed=4)]
    lms = [ref.PushForwardLM(src, t.enc.encode_ordinary, t.n, t.eos, context=[t.bos])
           for t, src in zip((a, b), sources)]
    models = [t.blm(lm) for t, lm in zip((a, b), lms)]
    e = "é".encode()
    mix = ByteEnsemble(models, weights=[0.5, 0.5]).state(b"a")
    assert mix.logprobs()[e[0]] > -np.inf
    mix.push(e)
    assert np.abs(np.exp(mix.logprobs()) - sources[1].next_byte_probs(b"a" + e)).max() < 1e-9
    product = ByteEnsemble(models, mode="product").state(b"a")
    before = product.logprobs()
    assert before[e[0]] == -np.inf
    with pytest.raises(toksmith.InvalidInputError):
        product.push(e)
    assert np.array_equal(product.logprobs(), before)
    product.push(b"b")  # still usable
    with pytest.raises(toksmith.InvalidInputError):
        ByteEnsemble(models[:1]).state(b"a").push(e)


def test_ensemble_combines_per_byte():
    tiny = Tiny(4, "split", 6)
    m1, m2 = tiny.blm(tiny.leaky_lm(1)), tiny.blm(tiny.leaky_lm(2))
    p1, p2 = np.exp(m1.next_byte_logprobs(b"a")), np.exp(m2.next_byte_logprobs(b"a"))
    mix = np.exp(ByteEnsemble([m1, m2], weights=[1, 3]).next_byte_logprobs(b"a"))
    assert np.abs(mix - (0.25 * p1 + 0.75 * p2)).max() < 1e-12
    prod = np.exp(ByteEnsemble([m1, m2], mode="product").next_byte_logprobs(b"a"))
    geo = np.sqrt(p1 * p2)
    assert np.abs(prod - geo / geo.sum()).max() < 1e-12


# ------------------------------------------------------------------ errors


@pytest.fixture
def tiny():
    return Tiny(5, "lookahead", 6)


def test_bad_lm_outputs_are_clear_errors(tiny):
    good = tiny.leaky_lm(0)
    cases = [
        (lambda p: good(p)[:, :-1], "shape"),
        (lambda p: good(p)[:1].repeat(len(p) + 1, axis=0), "shape"),
        (lambda p: np.where(np.arange(tiny.n) == 97, np.nan, good(p)), "NaN"),
        (lambda p: good(p) - 1.0, "not normalised"),
        (lambda p: np.zeros((len(p), tiny.n)), "log-probabilities"),
        (lambda p: good(p) + 0.5, "positive values"),
    ]
    for lm, message in cases:
        with pytest.raises(ValueError, match=message):
            tiny.blm(lm).next_byte_logprobs(b"a")


def test_lm_rounding_above_zero_counts_as_zero(tiny):
    # A log-softmax can round a near-certain token to a hair above 0: taken as 0, not refused.
    def peaked(p):
        out = np.full((len(p), tiny.n), -800.0)
        out[:, 97] = 5e-10
        return out

    def clamped(p):
        return np.minimum(peaked(p), 0.0)

    got = tiny.blm(peaked).next_byte_logprobs(b"a")
    assert np.array_equal(got, tiny.blm(clamped).next_byte_logprobs(b"a"))


def test_bad_arguments_are_clear_errors(tiny):
    lm = tiny.leaky_lm(0)
    with pytest.raises(KeyError, match="eos"):
        ByteLM(tiny.enc, lm, eos_token_id=10**6)
    with pytest.raises(KeyError, match="unknown token id"):
        ByteLM(tiny.enc, lm, context_tokens=[10**6]).next_byte_logprobs(b"a")
    with pytest.raises(ValueError, match="empty prompt"):
        ByteLM(tiny.enc, lm).generate(b"", 3)
    with pytest.raises(TypeError, match="bytes"):
        tiny.blm(lm).next_byte_logprobs("a")
    with pytest.raises(ValueError, match="not UTF-8"):
        tiny.blm(lm).next_byte_logprobs(b"\xff")
    st_ = tiny.blm(lm).state(b"a")
    with pytest.raises(ValueError, match="no valid token sequence"):
        st_.push(b"\xa9")  # a continuation byte after an ASCII letter
    with pytest.raises(ValueError, match="mode"):
        ByteEnsemble([tiny.blm(lm)], mode="median")
    with pytest.raises(TypeError, match="Encoding or Tokenizer"):
        ByteLM(object(), lm)


def test_one_lm_call_per_generated_byte(tiny):
    source, lm = pushforward(tiny, 1)
    blm = tiny.blm(lm)
    text = max(source.support, key=lambda s: (len(s), source.support[s]))
    st_ = blm.state(text[:2])
    st_.logprobs()
    before = blm.lm_calls
    for b in text[2:]:
        st_.push(bytes([b]))
        st_.logprobs()
    assert blm.lm_calls - before <= len(text) - 2


def test_o200k_prompt_ending_mid_token():
    # A real vocabulary: " Hel" ends inside " Hello"; the next byte 'l' must be likely under an
    # LM that always continues " Hello" canonically.
    enc = toksmith.get_encoding("o200k_base")
    target = enc.encode_ordinary(" Hello world")
    n = enc.n_vocab

    def lm(prefixes):
        out = np.full((len(prefixes), n), -50.0)
        for r, p in enumerate(prefixes):
            k = len(p) - 1  # after BOS
            nxt = target[k] if k < len(target) else enc.eot_token
            out[r, nxt] = 0.0
        return out - np.logaddexp.reduce(out, axis=1, keepdims=True)

    blm = ByteLM(enc, lm, eos_token_id=enc.eot_token, context_tokens=[enc.eot_token], probes=[" ", "a", "."])
    lp = blm.next_byte_logprobs(b" Hel")
    assert int(np.argmax(lp)) == ord("l")
    assert np.exp(lp[ord("l")]) > 0.99


@few
@given(
    tiny_settings,
    st.integers(0, 2**32 - 1),
    st.lists(st.sampled_from(["a", "b", " ", "é", "  ", "ab"]), min_size=6, max_size=10),
)
def test_long_text_moves_the_origin_without_changing_results(params, lm_seed, parts):
    # Many pieces: the engine fixes tokens before a stable piece boundary; the reference always
    # encodes from the start of the text.
    tiny = Tiny(*params)
    lm = tiny.leaky_lm(lm_seed)
    blm = tiny.blm(lm)
    text = "".join(parts).encode()
    st_ = blm.state(text[:1])
    for k in range(1, len(text) + 1):
        got = st_.logprobs()
        if k in (len(text) // 2, len(text)):
            assert np.abs(np.exp(got) - np.exp(blm.state(text[:k]).logprobs())).max() < 1e-12
            cover = ref.cover_next_byte_logprobs(tiny.ref.encode_ordinary, tiny.vocab, lm, text[:k], context=[tiny.bos],
                                                 eos=tiny.eos, probes=ALPHABET, depth=DEPTH)
            assert np.abs(np.exp(got) - np.exp(cover)).max() < 1e-12
        if k < len(text):
            st_.push(text[k:k + 1])
    if len(tiny.ref.pattern.findall(text.decode())) >= 5:
        assert st_._core.origin > 0


def test_fill_in_the_middle_small_case():
    # The examples/bytelm_demo.py comparison on a small case: a few standard-library modules as
    # the corpus, three others as held-out lines cut at random byte offsets.
    import importlib.util
    import pathlib
    import sysconfig

    root = pathlib.Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("bytelm_demo", root / "examples" / "bytelm_demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    lib = pathlib.Path(sysconfig.get_paths()["stdlib"])
    read = lambda name: (lib / name).read_text(encoding="utf-8")  # noqa: E731
    train = [read(n) for n in ["textwrap.py", "string.py", "shlex.py", "fnmatch.py", "glob.py", "heapq.py",
                               "copy.py", "abc.py", "getopt.py", "cmd.py", "csv.py", "queue.py"]]
    test = [read(n) for n in ["linecache.py", "sched.py", "bisect.py"]]
    enc, lm, eot = demo.build(train, 400, "o200k", 3)
    examples = demo.cuts(test, 40, 2, seed=3)
    hits, mid_token, calls = demo.fim_scores(enc, lm, eot, examples, ks=(1, 2))
    assert mid_token > 0
    assert calls <= len(examples) * 4  # one for the prompt, about one per generated byte
    for k in range(2):
        assert hits["bytelm"][k] > hits["naive"][k]
        assert hits["bytelm"][k] > hits["healing"][k]


def test_tokenizer_json_semantics_give_the_same_bytes_as_the_tiktoken_view():
    # A trained toksmith.Tokenizer (tokenizer.json semantics) and its tiktoken Encoding view.
    texts = ["def f(x):\n    return x + 1\n", "class A:\n    pass\n", "import os, sys\n"] * 5
    tok = toksmith.train_bpe(iterator=iter(texts), vocab_size=300, special_tokens=["<|endoftext|>"], progress=False)
    eot = tok.token_to_id("<|endoftext|>")
    from toksmith.lms import NGramLM

    lm = NGramLM(tok.get_vocab_size(), 3, bos=eot, eos=eot).fit(
        [tok.encode(t, add_special_tokens=False).ids for t in texts]
    )
    a = ByteLM(tok, lm, eos_token_id=eot, context_tokens=[eot])
    b = ByteLM(tok.to_encoding(), lm, eos_token_id=eot, context_tokens=[eot])
    for x in [b"", b"def", b"def f(x", b"  return x ", b"import os, s"]:
        assert np.abs(np.exp(a.next_byte_logprobs(x)) - np.exp(b.next_byte_logprobs(x))).max() < 1e-12
    assert a.generate(b"class", 12, temperature=0) == b.generate(b"class", 12, temperature=0)
