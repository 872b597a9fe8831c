"""Counting on a Dask cluster (a LocalCluster with 2 worker processes on loopback): sharded
training equals in-process training (BPE, SuperBPE), a worker killed mid-count is survived
(the shard is counted again) or reported, and bad input fails clearly."""

import os
import signal
import threading
import time

import pytest

import toksmith

from realtext import samples

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


@pytest.fixture(scope="module", autouse=True)
def workers_import_this_toksmith():
    """Worker processes (spawned now, and again when a killed one restarts) import toksmith
    from wherever this process does: a source checkout too, not only an installed package."""
    saved = os.environ.get("PYTHONPATH")
    here = os.path.dirname(os.path.dirname(toksmith.__file__))
    os.environ["PYTHONPATH"] = os.pathsep.join([here] + [p for p in (saved or "").split(os.pathsep) if p])
    yield
    if saved is None:
        del os.environ["PYTHONPATH"]
    else:
        os.environ["PYTHONPATH"] = saved


def local_cluster(**config):
    with dask.config.set(config):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit="2GiB",
        )  # dashboard off (its HTTP server picks a free port)
    return cluster, distributed.Client(cluster)


@pytest.fixture(scope="module")
def client():
    cluster, client = local_cluster()
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Real text in three files, about 1.4 MB."""
    d = tmp_path_factory.mktemp("corpus")
    paths = []
    for label, text in samples(200_000).items():
        p = d / f"{label}.txt"
        p.write_text(text * 2, encoding="utf-8")
        paths.append(str(p))
    return paths


def test_sharded_bpe_equals_in_process(client, corpus):
    expected = toksmith.train_bpe(corpus, vocab_size=800, pattern="cl100k", progress=False)
    files = corpus[:-1] + ["file://" + corpus[-1]]  # a local path and an fsspec URL
    got = toksmith.train_bpe(files, vocab_size=800, pattern="cl100k", client=client, shard_size=100_000, progress=False)
    assert got.merges == expected.merges and got.get_vocab() == expected.get_vocab()
    table = toksmith.count_pieces(corpus, pattern="cl100k", client=client, shard_size=70_001, progress=True)
    assert table == toksmith.count_pieces(corpus, pattern="cl100k", progress=False)


def test_sharded_superbpe_equals_in_process(client, corpus):
    kw = dict(vocab_size=900, transition=700, progress=False)
    expected = toksmith.train_superbpe(corpus, **kw)
    got = toksmith.train_superbpe(corpus, client=client, shard_size=150_000, **kw)
    assert got.merges == expected.merges and got.training_report == expected.training_report


def kill_a_worker_mid_count(client, job):
    """Runs `job()` in a thread; SIGKILLs the worker process that is counting a shard as soon
    as the scheduler has one assigned to a worker. Returns (result or exception, pid killed)."""
    pids = client.run(os.getpid)
    out = {}

    def run():
        try:
            out["result"] = job()
        except BaseException as e:  # handed to the test
            out["result"] = e

    t = threading.Thread(target=run)
    t.start()
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and t.is_alive() and time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            if any(str(k).startswith("toksmith-count") for k in keys):
                killed = pids[worker]
                os.kill(killed, signal.SIGKILL)
                break
        time.sleep(0.005)
    t.join(120)
    assert not t.is_alive(), "the job hung after a worker died"
    return out["result"], killed


def test_a_worker_killed_mid_count_is_survived(client, corpus):
    expected = toksmith.count_pieces(corpus, progress=False)
    result, killed = kill_a_worker_mid_count(
        client, lambda: toksmith.count_pieces(corpus, client=client, shard_size=40_000, progress=False))
    assert killed is not None, "no shard was seen counting"
    assert result == expected  # the lost shards were counted again, none twice
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it
    assert killed not in client.run(os.getpid).values()


def test_a_worker_lost_for_good_is_a_clear_error(corpus):
    cluster, client = local_cluster(**{"distributed.scheduler.allowed-failures": 0})
    try:
        result, killed = kill_a_worker_mid_count(
            client, lambda: toksmith.train_bpe(corpus, vocab_size=400, client=client, shard_size=40_000, progress=False)
        )
        assert killed is not None
        assert isinstance(result, toksmith.distributed.WorkerLostError), result
        assert "died while" in str(result) and "no result" in str(result)
    finally:
        client.close()
        cluster.close()


def test_bad_input_is_a_clear_error(client, corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        toksmith.train_bpe([corpus[0], str(tmp_path / "missing.txt")], vocab_size=300, client=client, progress=False)
    with pytest.raises(FileNotFoundError, match="gone.txt"):
        toksmith.count_pieces(["file://" + str(tmp_path / "gone.txt")], client=client, progress=False)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"text\n" * 1000 + b"\0\n")
    # A worker's error comes back as itself, naming the file.
    with pytest.raises(ValueError, match="binary.txt.*binary"):
        toksmith.train_bpe([corpus[0], str(binary)], vocab_size=300, client=client, shard_size=50_000, progress=False)
    with pytest.raises(ValueError, match="regex|pattern"):
        toksmith.count_pieces(corpus, pattern="(unclosed", client=client, progress=False)
    with pytest.raises(ValueError, match="iterator"):
        toksmith.train_bpe(iterator=["a b"], vocab_size=300, client=client, progress=False)
    # Tables counted on the cluster with another pattern do not mix.
    a = toksmith.count_pieces(corpus[:1], client=client, progress=False)
    b = toksmith.count_pieces(corpus[:1], pattern="gpt2", client=client, progress=False)
    with pytest.raises(ValueError, match="different pre-tokenizers"):
        a + b
    # The cluster is still usable afterwards.
    assert toksmith.count_pieces(corpus[:1], client=client, progress=False) == a
