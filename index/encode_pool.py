"""Where the build's encoding runs: in this process, in local worker processes, or on a Ray cluster.

The build (index/build.py ``Indexer._embed``) cuts the texts its cache lacks into ``Batch``es and
hands them to an ``EncodeBackend``; every backend gives each batch's rows back to the build as it
is done, which writes them into the encoding cache at once (so an interruption keeps them) and
counts them into the progress. Workers load the encoders themselves, once each, from an
``EncoderRecipe`` (the same specs the settings name), and encode with the very functions the
in-process path calls (``encoders``), so the rows are the same.

This module imports no FAISS and no encoder at the top: a spawned worker imports it first, and
OpenMP must not load before the worker's thread count is in its environment.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from index.e5_tokens import TokenEncoder
    from index.embed import Embedder

log = logging.getLogger("touyan.index")

Rows = list[np.ndarray]
# Encodes texts into cacheable float32 rows, calling progress(n) as it finishes n of them.
EncodeFn = Callable[[list[str], Callable[[int], None] | None], Rows]
Step = Callable[[int], None]

# Below this many texts to encode, the build encodes in its own process: starting the workers
# (each spawns and loads its encoders) takes about 1.5 s, and two workers gain about a fifth of
# the in-process time (eval/bench_encode.py), so a pool pays off from about 7 s of encoding
# (some 300 texts). A single uploaded document stays below it.
POOL_MIN_TEXTS = 300
# Texts encoded in the build's process between two commits to the cache: what an interrupted
# build loses at most.
ENCODE_BATCH = 32
# Texts a batch for a worker holds: small enough that the slow e5 batches spread evenly over the
# workers (99 passages in 32s would be 32+32 on one and 32+3 on the other); each is committed
# to the cache as it comes back.
POOL_BATCH = 8
# Batches queued per worker beyond the one it works on: keeps every worker busy while the
# parent writes a result, without holding every batch's rows in memory at once.
AHEAD = 1
CLUSTERS = '"ray" (a local Ray, or the cluster RAY_ADDRESS names), "auto" (the running cluster) or "ray://host:port"'


@dataclass(frozen=True)
class Batch:
    """Texts of one encoding job (named by its encoder) and their positions in the job's text list."""

    job: str
    positions: list[int]
    texts: list[str]


@dataclass(frozen=True)
class EncodePlan:
    """How the build encodes (TOUYAN_ENCODE_WORKERS, TOUYAN_ENCODE_CLUSTER): in its own process
    (1 worker, no cluster), in that many local processes, or on a Ray cluster."""

    workers: int = 1
    cluster: str | None = None
    min_texts: int = POOL_MIN_TEXTS  # fewer texts to encode: in the build's process


@dataclass(frozen=True)
class EncoderRecipe:
    """What a worker loads: the specs ``load_embedder`` and ``load_token_encoder`` take, and its threads."""

    embedder: str
    sparse: str
    threads: int = 1


class EncodeBackend(Protocol):
    """Encodes batches, handing each one's rows to ``done`` as it finishes (in any order) and
    counting finished texts into ``step``. An error in a worker ends ``run`` with that error."""

    description: str
    batch: int  # texts a batch should hold

    def run(self, batches: list[Batch], done: Callable[[Batch, Rows], None], step: Step) -> None: ...


def dense_fn(embedder: Embedder) -> EncodeFn:
    return lambda texts, progress: list(embedder.encode_passages(texts, progress))


def tokens_fn(tokens: TokenEncoder) -> EncodeFn:
    return lambda texts, progress: [e.to_row() for e in tokens.encode_passages(texts, progress)]


def encoders(embedder: Embedder, tokens: TokenEncoder | None) -> dict[str, EncodeFn]:
    """Each job's encoding, by encoder name: dense rows, and e5 token encodings as cache rows.
    The one definition both the build and the workers use."""
    return {embedder.name: dense_fn(embedder), **({tokens.name: tokens_fn(tokens)} if tokens is not None else {})}


def recipe_of(embedder: Embedder, tokens: TokenEncoder | None) -> EncoderRecipe | None:
    """The specs that load these encoders again in a worker, or None for encoders no spec names
    (a test double): those are encoded in the build's own process."""
    from index.e5_tokens import E5TokenEncoder
    from index.embed import USE_WEIGHT, E5Embedder, USEEmbedder

    specs = {
        E5Embedder.name: "e5",
        USEEmbedder.name: "use",
        f"{E5Embedder.name}*1+{USEEmbedder.name}*{USE_WEIGHT:g}": "e5+use",
    }
    spec = specs.get(embedder.name) or (embedder.name if embedder.name.startswith("st:") else None)
    if spec is None or (tokens is not None and tokens.name != E5TokenEncoder.name):
        return None
    return EncoderRecipe(spec, "e5" if tokens is not None else "none")


def backend_for(plan: EncodePlan, recipe: EncoderRecipe | None, local: dict[str, EncodeFn], texts: int) -> EncodeBackend:
    """The backend the plan asks for, or the build's own process when it asks for one worker, the
    encoders cannot be loaded elsewhere, or there is too little to encode to be worth a start."""
    if recipe is None or texts < plan.min_texts or (plan.workers <= 1 and plan.cluster is None):
        return InProcess(local)
    if plan.cluster is not None:
        return RayWorkers(plan.cluster, recipe)
    return LocalWorkers(recipe, plan.workers)


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class InProcess:
    """The encoders already loaded in this process, a batch at a time, counting every text."""

    description = "in this process"
    batch = ENCODE_BATCH

    def __init__(self, local: dict[str, EncodeFn]) -> None:
        self._local = local

    def run(self, batches: list[Batch], done: Callable[[Batch, Rows], None], step: Step) -> None:
        for batch in batches:
            done(batch, self._local[batch.job](batch.texts, step))


# ---- the worker side (a spawned process or a Ray actor) ----

class _Loaded:
    """A worker's encoders, loaded on first use of each (a worker given only sentences never loads e5's tokens)."""

    def __init__(self, recipe: EncoderRecipe) -> None:
        self.recipe = recipe
        self._fns: dict[str, EncodeFn] = {}

    def encode(self, job: str, texts: list[str]) -> Rows:
        fn = self._fns.get(job)
        if fn is None:
            fn = self._fns[job] = self._load(job)
        return [np.asarray(row, np.float32) for row in fn(texts, None)]

    def _load(self, job: str) -> EncodeFn:
        from index.e5_tokens import E5TokenEncoder, load_token_encoder
        from index.embed import load_embedder

        r = self.recipe
        if r.sparse != "none" and job == E5TokenEncoder.name:
            return tokens_fn(load_token_encoder(r.sparse, r.threads))
        embedder = load_embedder(r.embedder, r.threads)
        if embedder.name != job:
            raise ValueError(f"this worker's encoders ({r.embedder}, {r.sparse}) have no job {job!r}")
        return dense_fn(embedder)


_worker: _Loaded | None = None


def _start_worker(recipe: EncoderRecipe) -> None:
    global _worker
    _worker = _Loaded(recipe)


def _encode_in_worker(job: str, texts: list[str]) -> Rows:
    assert _worker is not None, "the worker was not started with _start_worker"
    return _worker.encode(job, texts)


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """These variables set while workers start: a spawned process copies the environment, and
    OpenMP reads its thread count from it when it loads (later calls cannot change it for the
    encoder's own thread)."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class LocalWorkers:
    """``workers`` spawned processes on this machine, the cores shared between them; each loads
    the encoders once. A worker that dies ends the build with an error naming it."""

    def __init__(self, recipe: EncoderRecipe, workers: int) -> None:
        self.workers = workers
        self.threads = max(1, cores() // workers)
        self.recipe = EncoderRecipe(recipe.embedder, recipe.sparse, self.threads)
        self.batch = POOL_BATCH
        self.description = f"in {workers} worker processes, {self.threads} thread{'s' if self.threads > 1 else ''} each"

    def run(self, batches: list[Batch], done: Callable[[Batch, Rows], None], step: Step) -> None:
        # spawn, not fork: the parent may hold OpenMP's and BLAS's thread pools (and a server's
        # threads), which a forked child would inherit half-initialised.
        context = multiprocessing.get_context("spawn")
        with _environment(OMP_NUM_THREADS=str(self.threads)):
            pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_start_worker, initargs=(self.recipe,))
            try:
                _drive(_slow_first(batches), lambda b: pool.submit(_encode_in_worker, b.job, b.texts), done, step, self.workers * (1 + AHEAD))
            except BrokenProcessPool as e:
                codes = [p.exitcode for p in getattr(pool, "_processes", {}).values() if p.exitcode]
                raise RuntimeError(f"an encoding worker process died (exit code {codes or 'unknown'}); what was encoded before is kept in the cache, so running the build again resumes") from e
            finally:
                _stop(pool)


def _slow_first(batches: list[Batch]) -> list[Batch]:
    """e5's token pass first: its batches take longest, and workers given them first finish
    together instead of one ending on a long batch while the others wait."""
    from index.e5_tokens import E5TokenEncoder

    return sorted(batches, key=lambda b: b.job != E5TokenEncoder.name)


def _drive(batches: list[Batch], submit: Callable[[Batch], Future], done: Callable[[Batch, Rows], None], step: Step, in_flight: int) -> None:
    """Keeps ``in_flight`` batches submitted, handing each result to ``done`` as it arrives."""
    queue = iter(batches)
    pending: dict[Future, Batch] = {}

    def top_up() -> None:
        while len(pending) < in_flight:
            batch = next(queue, None)
            if batch is None:
                return
            pending[submit(batch)] = batch

    top_up()
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            batch = pending.pop(future)
            rows = future.result()  # a worker's error is raised here
            done(batch, rows)
            step(len(batch.texts))
        top_up()


def _stop(pool: ProcessPoolExecutor) -> None:
    """Ends the workers now: on an interruption they would otherwise finish every queued batch first."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public way before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join()


# ---- Ray ----

def import_ray():
    try:
        import ray
    except ImportError as e:
        raise ImportError("TOUYAN_ENCODE_CLUSTER needs Ray: pip install 'touyan[ray]'") from e
    return ray


def check_cluster(cluster: str | None) -> str | None:
    """The setting when it names a cluster this build can use (Settings checks it first), else a ValueError."""
    if cluster is None or cluster in ("ray", "auto") or (cluster.startswith("ray://") and len(cluster) > 6):
        return cluster
    raise ValueError(f"unknown encode cluster {cluster!r}: expected {CLUSTERS}")


class _RayEncoder:
    """A Ray actor holding one worker's encoders."""

    def __init__(self, recipe: EncoderRecipe) -> None:
        self._loaded = _Loaded(recipe)

    def encode(self, job: str, texts: list[str]) -> Rows:
        return self._loaded.encode(job, texts)


class RayWorkers:
    """The same batches on Ray: one actor per ``threads`` of the cluster's CPUs, each holding the
    encoders. Joins the cluster the setting names, or starts a local Ray (and stops it after)
    for "ray" with none running; an already initialised Ray (a test, a notebook) is used as is."""

    def __init__(self, cluster: str, recipe: EncoderRecipe, threads: int = 1) -> None:
        self.cluster = check_cluster(cluster)
        self.recipe = EncoderRecipe(recipe.embedder, recipe.sparse, threads)
        self.batch = POOL_BATCH
        self.description = f"on Ray ({cluster}), {threads} thread{'s' if threads > 1 else ''} an actor"

    def run(self, batches: list[Batch], done: Callable[[Batch, Rows], None], step: Step) -> None:
        ray = import_ray()
        started = False
        if not ray.is_initialized():
            if self.cluster == "ray" and not os.environ.get("RAY_ADDRESS"):
                ray.init(include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=None if self.cluster == "ray" else self.cluster, log_to_driver=False)
            started = True
        actors = []
        try:
            threads = self.recipe.threads
            cpus = int(ray.cluster_resources().get("CPU", 1))
            count = max(1, min(cpus // threads, len(batches)))
            actor = ray.remote(num_cpus=threads, max_restarts=0, runtime_env={"env_vars": {"OMP_NUM_THREADS": str(threads)}})(_RayEncoder)
            actors = [actor.remote(self.recipe) for _ in range(count)]
            log.info("encoding on %d Ray actors (%d CPUs in the cluster)", count, cpus)
            try:
                _drive_ray(ray, actors, _slow_first(batches), done, step)
            except ray.exceptions.RayActorError as e:
                raise RuntimeError(f"a Ray encoding worker died: {e}; what was encoded before is kept in the cache, so running the build again resumes") from e
        finally:
            for a in actors:
                ray.kill(a)
            if started:
                ray.shutdown()


def _drive_ray(ray, actors: list, batches: list[Batch], done: Callable[[Batch, Rows], None], step: Step) -> None:
    """Gives each actor up to 1 + AHEAD batches, the next one to the least loaded, and hands each
    result to ``done`` as it arrives."""
    queue = iter(batches)
    load = {i: 0 for i in range(len(actors))}
    pending: dict[object, tuple[Batch, int]] = {}  # ObjectRef → its batch and actor

    def top_up() -> None:
        while True:
            i = min(load, key=load.get)
            if load[i] > AHEAD:
                return
            batch = next(queue, None)
            if batch is None:
                return
            pending[actors[i].encode.remote(batch.job, batch.texts)] = (batch, i)
            load[i] += 1

    top_up()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            batch, i = pending.pop(ref)
            load[i] -= 1
            done(batch, ray.get(ref))  # a worker's error is raised here
            step(len(batch.texts))
        top_up()
