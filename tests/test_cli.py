import os
import subprocess
import sys
from pathlib import Path

import pytest

import toksmith
from toksmith.cli import main

BENCHES = Path(__file__).resolve().parent.parent / "benches"


def test_encode_decode_and_count(capsys, tmp_path):
    enc = toksmith.get_encoding("o200k_base")
    assert main(["encode", "Hello, world"]) == 0
    ids = [int(i) for i in capsys.readouterr().out.split()]
    assert ids == enc.encode("Hello, world")
    assert main(["decode", *map(str, ids)]) == 0
    assert capsys.readouterr().out == "Hello, world\n"
    path = tmp_path / "f.txt"
    path.write_text("one line\ntwo <|endoftext|> lines\n")
    assert main(["encode", "-f", str(path), "--count", "--encoding", "cl100k_base"]) == 0
    count = int(capsys.readouterr().out.split()[0])
    cl = toksmith.get_encoding("cl100k_base")
    assert count == len(cl.encode("one line\n", disallowed_special=())) + len(
        cl.encode("two <|endoftext|> lines\n", disallowed_special=())
    )


def test_errors_are_messages_not_tracebacks(capsys, tmp_path):
    assert main(["encode", "x", "--encoding", "nope"]) == 1
    assert "Unknown encoding 'nope'" in capsys.readouterr().err
    assert main(["encode", "-f", str(tmp_path / "missing.txt")]) == 1


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "toksmith.cli", "list"], capture_output=True, text=True, check=True)
    assert "o200k_base" in out.stdout and "cl100k_base" in out.stdout


def test_train_writes_a_tokenizer_and_reports(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\n" * 50 + "pack my box with five dozen jugs\n" * 30)
    out = tmp_path / "tok.json"
    assert (
        main(["train", str(corpus), "--vocab-size", "300", "--special-token", "<|endoftext|>", "-o", str(out), "-q"])
        == 0
    )
    assert "trained 43 merges" in capsys.readouterr().out
    tok = toksmith.Tokenizer.from_file(out)
    assert tok.get_vocab_size() == 300 and tok.token_to_id("<|endoftext|>") == 299
    assert tok.decode(tok.encode("the lazy fox").ids) == "the lazy fox"


def test_train_failure_leaves_no_output(tmp_path, capsys):
    out = tmp_path / "tok.json"
    assert main(["train", str(tmp_path / "missing.txt"), "-o", str(out), "-q"]) == 1
    assert "no such file" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["train", str(empty), "-o", str(out), "-q"]) == 1
    assert "empty corpus" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == [empty]


def test_the_peer_table_script_runs(tmp_path):
    # The peer table lives in benches/ (not in the installed package); its entry point is a script.
    env = {**os.environ, "TOKSMITH_CORPORA": str(tmp_path / "no-corpora-here")}  # builtin samples
    script = BENCHES / "compare.py"
    out = subprocess.run([sys.executable, str(script), "--encodings", "o200k_base", "--limit-bytes", "40000",
                          "--repeat", "1", "--threads", "1", "--out", str(tmp_path / "results")],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "| toksmith Encoding |" in out.stdout and "| tiktoken |" in out.stdout
    assert (tmp_path / "results" / "encode.md").exists()


def test_bench_is_not_a_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "encode"])
    assert "invalid choice: 'bench'" in capsys.readouterr().err


def test_train_superbpe_and_compare(tmp_path, capsys):
    from realtext import samples

    text = samples(400_000)["english"]
    corpus, held = tmp_path / "corpus.txt", tmp_path / "held.txt"
    corpus.write_text(text[:300_000])
    held.write_text(text[300_000:])
    bpe, sup = tmp_path / "bpe.json", tmp_path / "sup.json"
    assert main(["train", str(corpus), "--vocab-size", "2000", "-o", str(bpe), "-q",
                 "--pattern", toksmith.patterns.O200K_NO_CONTRACTIONS]) == 0
    assert main(["train", str(corpus), "--vocab-size", "2000", "--superbpe", "--transition", "0.7",
                 "-o", str(sup), "-q"]) == 0
    out = capsys.readouterr().out
    assert "SuperBPE: 1144 stage-1 merges, 600 stage-2 merges" in out
    assert main(["compare", str(bpe), str(sup), "cl100k_base", "--text", str(held)]) == 0
    table = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in table[2:]}
    assert int(rows[str(sup)][1]) < int(rows[str(bpe)][1])
    ours = toksmith.Tokenizer.from_file(sup)
    docs = held.read_text()
    assert int(rows[str(sup)][1]) > 0
    assert ours.decode(ours.encode(docs).ids) == docs
    assert main(["train", str(corpus), "--vocab-size", "2000", "--superbpe", "--transition", "5000", "-o",
                 str(tmp_path / "x.json"), "-q"]) == 1
    assert "transition 5000 is larger than vocab_size 2000" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "nope.json"), "--text", str(held)]) == 1
    assert "nope.json" in capsys.readouterr().err


def test_compare_reads_a_tiktoken_file_with_a_pattern(tmp_path, capsys):
    toksmith.get_encoding("cl100k_base").save_tiktoken(tmp_path / "cl.tiktoken")
    held = tmp_path / "held.txt"
    held.write_text("Some text, and 12345 more text.\n\nA second document.\n")
    assert main(["compare", "cl100k_base", str(tmp_path / "cl.tiktoken"), "--pattern", "cl100k",
                 "--text", str(held)]) == 0
    rows = capsys.readouterr().out.splitlines()[-2:]
    assert rows[0].split()[1] == rows[1].split()[1] and rows[1].endswith("+0.0%")
