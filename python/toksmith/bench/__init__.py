"""Side-by-side benchmarks shipped with the package (`toksmith bench encode`); they need the
``bench`` extra (tiktoken, tokenizers, matplotlib and the optional peers)."""
