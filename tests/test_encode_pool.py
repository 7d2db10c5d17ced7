"""Encoding in worker processes and on Ray (index/encode_pool.py): the same rows as in the build's
own process, in the same order, kept in the cache as they arrive, and a dead worker is an error."""
from __future__ import annotations

import multiprocessing
import os
import signal

import numpy as np
import pytest

from index.build import ENCODE_BATCH, Indexer, sentence_rows
from index.e5_tokens import E5TokenEncoder, TokenEncoding
from index.embed import load_embedder
from index.encode_pool import POOL_MIN_TEXTS, EncodePlan, InProcess, LocalWorkers, backend_for, recipe_of
from touyan.settings import Settings

PASSAGES = 24  # with their sentences, ~190 texts: enough batches for both workers
POOL = EncodePlan(workers=2, min_texts=0)  # a pool even for this few texts


@pytest.fixture(scope="module")
def encoders():
    return load_embedder("use"), E5TokenEncoder()


@pytest.fixture(scope="module")
def jobs(chunks, encoders):
    """The build's encoding jobs for the first passages of the bundled corpus and their sentences."""
    part = chunks[:PASSAGES]
    return Indexer(*encoders).encoding_jobs(part, sentence_rows(part))


def embed(encoders, jobs, index_dir, plan: EncodePlan = EncodePlan(), progress=None) -> dict[str, list[np.ndarray]]:
    return Indexer(*encoders, encode=plan)._embed(index_dir, jobs, progress)


@pytest.fixture(scope="module")
def in_process(encoders, jobs, tmp_path_factory):
    return embed(encoders, jobs, tmp_path_factory.mktemp("in-process"))


def assert_same_rows(got: dict[str, list[np.ndarray]], want: dict[str, list[np.ndarray]]) -> None:
    assert got.keys() == want.keys()
    for name in want:
        assert len(got[name]) == len(want[name])
        for a, b in zip(got[name], want[name]):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_two_local_workers_give_the_rows_of_the_build_s_own_process(encoders, jobs, in_process, tmp_path):
    seen = []
    rows = embed(encoders, jobs, tmp_path, POOL, lambda done, total: seen.append((done, total)))
    assert_same_rows(rows, in_process)
    total = sum(len(texts) for texts, _ in jobs.values())
    assert seen[-1] == (total, total) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    tokens = [TokenEncoding.from_row(r) for r in rows[encoders[1].name]]
    assert all(len(t.ids) == len(t.starts) == len(t.tokens) > 0 for t in tokens)
    assert not multiprocessing.active_children()  # the workers are gone


def test_an_interrupted_pool_keeps_what_it_encoded_and_the_next_run_encodes_the_rest(encoders, jobs, in_process, tmp_path):
    interrupted_at = []

    def stop_after_two_batches(done: int, total: int) -> None:
        if done >= 2 * ENCODE_BATCH:
            interrupted_at.append((done, total))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed(encoders, jobs, tmp_path, POOL, stop_after_two_batches)
    assert not multiprocessing.active_children()  # stopped at once, not after the queued batches
    done, total = interrupted_at[0]
    totals = []
    rows = embed(encoders, jobs, tmp_path, POOL, lambda d, t: totals.append(t))
    assert totals and totals[-1] <= total - done  # only the rest was encoded again
    assert_same_rows(rows, in_process)


def test_a_worker_that_dies_ends_the_build_with_an_error(encoders, jobs, tmp_path):
    def kill_a_worker(done: int, total: int) -> None:
        workers = multiprocessing.active_children()
        if workers:
            os.kill(workers[0].pid, signal.SIGKILL)

    with pytest.raises(RuntimeError, match="encoding worker process died"):
        embed(encoders, jobs, tmp_path, POOL, kill_a_worker)
    assert not multiprocessing.active_children()


def test_small_jobs_and_one_worker_stay_in_the_build_s_process(encoders):
    recipe = recipe_of(*encoders)
    assert recipe is not None and (recipe.embedder, recipe.sparse) == ("use", "e5")
    assert isinstance(backend_for(EncodePlan(workers=2), recipe, {}, POOL_MIN_TEXTS - 1), InProcess)
    assert isinstance(backend_for(EncodePlan(workers=1), recipe, {}, 10_000), InProcess)
    assert isinstance(backend_for(EncodePlan(workers=2), recipe, {}, POOL_MIN_TEXTS), LocalWorkers)
    assert isinstance(backend_for(EncodePlan(workers=2), None, {}, 10_000), InProcess)  # encoders no spec names


def test_the_settings_choose_the_plan():
    assert Settings(encode_workers=2).encode_plan == EncodePlan(2, None)
    with pytest.raises(ValueError, match="unknown encode cluster"):
        Settings(encode_cluster="spark://x")


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_gives_the_rows_of_the_build_s_own_process(local_ray, encoders, jobs, in_process, tmp_path):
    seen = []
    rows = embed(encoders, jobs, tmp_path, EncodePlan(cluster="ray", min_texts=0), lambda done, total: seen.append(done))
    assert_same_rows(rows, in_process)
    assert seen[-1] == sum(len(texts) for texts, _ in jobs.values())
    assert Settings(encode_cluster="ray://head:10001").encode_plan.cluster == "ray://head:10001"
