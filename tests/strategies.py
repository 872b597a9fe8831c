"""Hypothesis strategies for tokenizer inputs: all of Unicode, and fragments that stress
pre-tokenizers (whitespace runs, digits, contractions, special-token strings, scripts)."""

from hypothesis import strategies as st

# Any scalar value except surrogates (those cannot be UTF-8; tested separately).
any_char = st.characters(exclude_categories=("Cs",))
any_text = st.text(any_char, max_size=60)

FRAGMENTS = [
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", " \n", "\u00a0", "\u3000", "\u2009", "\x0b", "\x0c", "\x85",
    "'s", "'S", "'t", "'re", "'VE", "'m", "'ll", "'LL", "'d", "'", "don't", "I'M",
    "0", "7", "12", "123", "1234", "12345678", "٣٤٥", "१२", "½", "Ⅻ",
    "<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>", "<|endoftext", "endoftext|>", "<|",
    "hello", "Hello", "HELLO", "hELLo", "naïve", "café", "über", "Straße", "ǅemal", "ﬁ",
    "日本語", "中文", "Привет", "мир", "العربية", "עברית", "हिन्दी", "ภาษาไทย", "한국어",
    "e\u0301", "\u0301", "a\u0300\u0301", "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷",
    ".", "...", "!!", "?", "/", "//", "{}", "()", "$x", "#!", "--", "==", "->", "\\", "\"", "`",
]

fragment_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(any_char, max_size=3)), max_size=25).map("".join)

texts = st.one_of(any_text, fragment_text)
