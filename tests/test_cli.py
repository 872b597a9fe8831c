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
                 "--pattern", "regex:" + toksmith.patterns.O200K_NO_CONTRACTIONS]) == 0
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


# --------------------------------------------------------------------- options


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"toksmith {toksmith.__version__}"


def test_pattern_names_are_checked_and_regexes_are_explicit(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat\n" * 20)
    with pytest.raises(SystemExit) as info:
        main(["train", str(corpus), "--pattern", "o300k", "-o", str(tmp_path / "t.json"), "-q"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown pattern name 'o300k'" in err and "o200k" in err and "cl100k" in err and "regex:REGEX" in err
    assert not (tmp_path / "t.json").exists()
    with pytest.raises(SystemExit):
        main(["compare", "o200k_base", "--text", str(corpus), "--pattern", "gtp2"])
    assert "unknown pattern name 'gtp2'" in capsys.readouterr().err
    # a regex of one's own, with the prefix: whole words only, so "the" and " cat" never meet
    assert main(["train", str(corpus), "--pattern", r"regex:\S+|\s+", "--vocab-size", "300",
                 "-o", str(tmp_path / "t.json"), "-q"]) == 0
    tok = toksmith.Tokenizer.from_file(tmp_path / "t.json")
    assert tok.encode("the cat").tokens == ["the", "Ġ", "cat"]
    assert main(["train", str(corpus), "--pattern", "gpt2", "--vocab-size", "300",
                 "-o", str(tmp_path / "t.json"), "-q"]) == 0


def test_compare_splits_a_tiktoken_file_with_the_pattern_it_names(tmp_path, capsys):
    toksmith.get_encoding("o200k_base").save_tiktoken(tmp_path / "o2.tiktoken")
    held = tmp_path / "held.txt"
    held.write_text("Some text, and 12345 more text.\n\nA second document.\n")
    assert main(["compare", "o200k_base", str(tmp_path / "o2.tiktoken"), "--text", str(held)]) == 0
    captured = capsys.readouterr()
    rows = captured.out.splitlines()[-2:]
    assert rows[0].split()[1] == rows[1].split()[1] and rows[1].endswith("+0.0%")
    assert "holds no pattern" in captured.err and "--pattern o200k" in captured.err
    # a pattern that matches nothing gives no tokens: reported, not a crash
    assert main(["compare", str(tmp_path / "o2.tiktoken"), "--text", str(held), "--pattern", "regex:xyz"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1].split()[1:3] == ["0", "n/a"]
    assert "gives no tokens" in captured.err


def test_encode_keeps_line_endings_and_decode_reports_bad_ids(tmp_path, capsys):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"one\r\ntwo\r\n")
    assert main(["encode", "-f", str(path)]) == 0
    enc = toksmith.get_encoding("o200k_base")
    lines = capsys.readouterr().out.splitlines()
    assert [[int(i) for i in line.split()] for line in lines] == [enc.encode("one\r\n"), enc.encode("two\r\n")]
    assert main(["decode", "--", "24912", "-1"]) == 1
    assert capsys.readouterr().err == "toksmith decode: token id -1 at position 1 is out of range (0..200018)\n"
    assert main(["decode", "1.5"]) == 1
    assert "'1.5' is not a token id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["encode", "x", "--threads", "-1"])


# --------------------------------------------------------------------- train output


def _corpus(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\n" * 50)
    return corpus


def test_train_checks_the_output_before_training(tmp_path, capsys, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the output")

    monkeypatch.setattr(toksmith, "train_bpe", no_training)
    corpus = _corpus(tmp_path)
    assert main(["train", str(corpus), "-o", str(tmp_path / "missing" / "t.json"), "-q"]) == 1
    assert "no such directory" in capsys.readouterr().err
    assert main(["train", str(corpus), "-o", str(corpus / "t.json"), "-q"]) == 1  # a file as directory
    assert main(["train", str(corpus), "-o", str(tmp_path), "-q"]) == 1
    assert "is a directory" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt"]


def test_train_writes_only_where_told_and_replaces_a_named_file(tmp_path, capsys, monkeypatch):
    corpus = _corpus(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(corpus), "--vocab-size", "300", "-q"])
    assert exit_info.value.code == 2
    assert "-o/--output" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt"]
    assert main(["train", str(corpus), "--vocab-size", "300", "-q", "-o", "tokenizer.json"]) == 0
    target = tmp_path / "tokenizer.json"
    assert f"saved {target}" in capsys.readouterr().out  # the absolute path
    first = target.read_text()
    assert main(["train", str(corpus), "--vocab-size", "270", "-q", "-o", "tokenizer.json"]) == 0
    assert target.read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "tokenizer.json"]


@pytest.mark.parametrize("phase", ["training", "writing"])
def test_ctrl_c_while_training_or_writing_exits_130_and_leaves_no_file(tmp_path, capsys, monkeypatch, phase):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    if phase == "training":
        monkeypatch.setattr(toksmith, "train_bpe", interrupted)
    else:
        monkeypatch.setattr(toksmith.Tokenizer, "save", interrupted)
    corpus = _corpus(tmp_path)
    assert main(["train", str(corpus), "--vocab-size", "300", "-q", "-o", str(tmp_path / "t.json")]) == 130
    assert capsys.readouterr().err == "toksmith train: interrupted\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt"]


# --------------------------------------------------------------------- Ctrl-C from outside

# The command runs in a child process that gets a real SIGINT. It is started through a
# launcher that installs Python's SIGINT handler even where the test runner ignores SIGINT
# (a child inherits an ignored signal, and Python then leaves it ignored).
LAUNCH = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
          "from toksmith.cli import main; sys.exit(main(sys.argv[1:]))")


def _start(tmp_path, *args, **kwargs):
    import subprocess

    return subprocess.Popen([sys.executable, "-c", LAUNCH, *args], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _wait_for(condition, what, timeout=8.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def _training_started(out_dir):
    # the temporary output file is made before reading any input
    return lambda: any(p.name.startswith(".toksmith-") for p in out_dir.iterdir())


def _interrupt(proc, out_dir):
    import signal
    import subprocess

    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=8)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("Ctrl-C did not stop the command") from None
    assert proc.returncode == 130, err
    assert err == "toksmith train: interrupted\n"  # one line, no traceback
    assert not any(p.name == "t.json" or p.name.startswith(".toksmith-") for p in out_dir.iterdir())


needs_fifos = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@needs_fifos
def test_ctrl_c_while_waiting_for_a_fifo_writer_exits_130(tmp_path):
    import time

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = _start(tmp_path, "train", str(fifo), "-q", "-o", str(out_dir / "t.json"))
    _wait_for(_training_started(out_dir), "training to start")
    time.sleep(0.3)  # into open(), which waits for a writer that never comes
    _interrupt(proc, out_dir)


@needs_fifos
def test_ctrl_c_while_reading_a_slow_pipe_exits_130(tmp_path):
    import errno
    import time

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = _start(tmp_path, "train", str(fifo), "-q", "-o", str(out_dir / "t.json"))

    def reader_opened():
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until the reader is there
        except OSError as e:
            assert e.errno == errno.ENXIO
            return None
        return fd

    fds = []
    _wait_for(lambda: fds.append(reader_opened()) or fds[-1] is not None, "toksmith to open the FIFO")
    fd = fds[-1]
    try:
        for i in range(3):  # a few lines, then nothing: the reader waits in read()
            os.write(fd, b"some text arriving slowly %d\n" % i)
            time.sleep(0.05)
        time.sleep(0.2)
        _interrupt(proc, out_dir)
    finally:
        os.close(fd)


def test_ctrl_c_while_reading_standard_input_exits_130(tmp_path):
    import subprocess
    import time

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = _start(tmp_path, "train", "-", "-q", "-o", str(out_dir / "t.json"), stdin=subprocess.PIPE)
    try:
        _wait_for(_training_started(out_dir), "training to start")
        proc.stdin.write("a line of text on standard input\n" * 10)
        proc.stdin.flush()
        time.sleep(0.3)
        _interrupt(proc, out_dir)
    finally:
        proc.stdin.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to see the file being counted")
def test_ctrl_c_while_counting_a_big_file_exits_130(tmp_path):
    import random

    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    block = "".join(" ".join(rng.choice(words) for _ in range(12)) + f" {rng.randint(0, 10**6)}\n"
                    for _ in range(20_000)).encode()
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:  # about 120 MB: a second or more of counting on one thread
        for _ in range(120_000_000 // len(block)):
            f.write(block)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = _start(tmp_path, "train", str(big), "-q", "--threads", "1", "-o", str(out_dir / "t.json"))
    fd_dir = f"/proc/{proc.pid}/fd"

    def counting():
        try:
            return any(os.readlink(os.path.join(fd_dir, fd)) == str(big) for fd in os.listdir(fd_dir))
        except OSError:  # a descriptor closed while listing
            return False

    _wait_for(counting, "the engine to open the big file")
    _interrupt(proc, out_dir)


def test_infer_mixture(capsys, tmp_path, monkeypatch):
    pytest.importorskip("scipy")
    samples = Path(toksmith.__file__).parent / "samples"
    out = tmp_path / "m.json"
    assert main(["infer-mixture", "cl100k_base", "--category", f"en={samples / 'en.txt'}",
                 "--category", f"code={samples / 'python.txt'}", f"{samples / 'python.txt'}",
                 "--merges", "200", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "en " in printed and "code " in printed and "total slack" in printed and "wrote" in printed
    import json

    saved = json.loads(out.read_text())
    assert set(saved["proportions"]) == {"en", "code"} and saved["merges"] == 200
    assert abs(sum(saved["proportions"].values()) - 1) < 1e-9
    # Errors: a missing file, a category without NAME=, a bad --merges, all one line and status 1.
    for args, message in (
        (["--category", f"en={tmp_path / 'missing.txt'}"], "missing.txt"),
        (["--category", str(samples / "en.txt")], "give NAME=FILE"),
        (["--category", f"en={samples / 'en.txt'}", "--merges", "0"], "--merges 0"),
    ):
        assert main(["infer-mixture", "cl100k_base", *args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("toksmith infer-mixture: ") and message in err and err.count("\n") == 1

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("toksmith.mixture.infer_mixture", interrupted)
    assert main(["infer-mixture", "cl100k_base", "--category", f"en={samples / 'en.txt'}"]) == 130
    assert capsys.readouterr().err == "toksmith infer-mixture: interrupted\n"


def test_count_prints_each_file_and_the_total_exactly(tmp_path, capsys):
    texts = {"a.txt": "one line;\n\n  two <|endoftext|> lines\r\n", "b.txt": "x = 1;\nprint(x)\n" * 1000}
    for name, text in texts.items():
        (tmp_path / name).write_bytes(text.encode())
    cl = toksmith.get_encoding("cl100k_base")
    files = [str(tmp_path / n) for n in texts]
    assert main(["count", *files, "--encoding", "cl100k_base", "--threads", "2"]) == 0
    want = [cl.count_ordinary(t) for t in texts.values()]
    assert capsys.readouterr().out.splitlines() == [*(f"{n}\t{f}" for n, f in zip(want, files)), f"{sum(want)}\ttotal"]
    path = tmp_path / "tokenizer.json"
    cl.to_tokenizer().save(path)
    assert main(["count", files[0], "--tokenizer", str(path)]) == 0
    assert capsys.readouterr().out.split("\n")[0] == f"{want[0]}\t{files[0]}"


def test_count_reads_standard_input():
    proc = subprocess.run([sys.executable, "-c", LAUNCH, "count", "-"], input="hello world;\nagain\n",
                          capture_output=True, text=True, timeout=60)
    n = toksmith.get_encoding("o200k_base").count_ordinary("hello world;\nagain\n")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{n}\t-\n{n}\ttotal\n", "")


def test_count_errors_are_one_line(tmp_path, capsys):
    missing = tmp_path / "missing.txt"
    assert main(["count", str(missing)]) == 1
    assert capsys.readouterr().err == f"toksmith count: {missing}: No such file or directory (os error 2)\n"
    assert main(["count", str(tmp_path)]) == 1
    assert "Is a directory" in capsys.readouterr().err
    assert main(["count", "-", "-"]) == 1
    assert capsys.readouterr().err == "toksmith count: '-' (standard input) can be given only once\n"


def test_ctrl_c_while_count_reads_standard_input_exits_130(tmp_path):
    import signal
    import time

    proc = _start(tmp_path, "count", "-", stdin=subprocess.PIPE)
    try:
        proc.stdin.write("a line of text on standard input;\n" * 10)
        proc.stdin.flush()
        time.sleep(1.5)  # the engine now waits for more input (or the end)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=8)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (proc.returncode, err) == (130, "toksmith count: interrupted\n")
