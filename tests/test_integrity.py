"""Issue 15's index integrity: every file is checked against the manifest when a build is written
and when it is loaded; a damaged build is named with its remedy and never served; a running
server keeps its last good build; a killed build leaves nothing behind; an interrupted build
resumes from its encodings."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from eval.serve_process import ServeProcess
from index.build import ENCODE_BATCH, EmbeddingCache, ensure_index
from index.store import CURRENT, IndexCorrupt, live_build, load_index
from tests.conftest import SEEDS, copy_index

TOUYAN = Path(sys.executable).with_name("touyan")


def live_folder(index_dir: Path) -> Path:
    return index_dir / "builds" / live_build(index_dir)


def damage(path: Path, how: str) -> None:
    path.chmod(0o644)  # builds are read-only: this is a disk fault or a careless operator
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))


@pytest.fixture
def damaged(index_dir, tmp_path):
    own = copy_index(index_dir, tmp_path / "index")
    return own


@pytest.mark.parametrize("name, how, problem", [
    ("vectors.faiss", "scramble", "does not match its checksum"),
    ("chunks.json", "truncate", "bytes, not the"),
    ("late_codes.bin", "truncate", "bytes, not the"),
    ("vectors.faiss", "truncate", "bytes, not the"),
])
def test_a_damaged_file_is_named_with_its_remedy(damaged, name, how, problem):
    damage(live_folder(damaged) / name, how)
    with pytest.raises(IndexCorrupt) as caught:
        load_index(damaged)
    message = str(caught.value)
    assert name in message and problem in message and "touyan index --force" in message


def test_a_missing_manifest_is_named(damaged):
    manifest = live_folder(damaged) / "manifest.json"
    live_folder(damaged).chmod(0o755)
    manifest.unlink()
    with pytest.raises(IndexCorrupt, match="manifest.json is missing"):
        load_index(damaged)


def run_touyan(*args: str, index_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOUYAN_INDEX_DIR": str(index_dir), "TOUYAN_CORPUS_DIR": str(SEEDS)}
    return subprocess.run([str(TOUYAN), *args], env=env, capture_output=True, text=True)


def test_the_command_line_stops_with_one_line_and_index_rebuilds(damaged):
    damage(live_folder(damaged) / "sentence_vectors.npy", "truncate")
    search = run_touyan("search", "梦创社区", index_dir=damaged)
    assert search.returncode == 2
    last = search.stderr.strip().splitlines()[-1]
    assert last.startswith("error: index file ") and "sentence_vectors.npy" in last and "touyan index --force" in last
    assert "Traceback" not in search.stderr

    rebuilt = run_touyan("index", index_dir=damaged)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "the live build is damaged" in rebuilt.stdout
    assert run_touyan("search", "梦创社区", index_dir=damaged).returncode == 0


def test_serve_on_a_damaged_index_exits_non_zero_naming_the_file(damaged):
    damage(live_folder(damaged) / "bm25.npz", "scramble")
    server = ServeProcess(env={"TOUYAN_INDEX_DIR": str(damaged)})
    with pytest.raises(RuntimeError, match="exited with 2") as caught:
        server.start()
    assert "bm25.npz does not match its checksum" in str(caught.value)


def test_a_running_server_keeps_its_good_build(damaged):
    with ServeProcess(env={"TOUYAN_INDEX_DIR": str(damaged)}) as server, httpx.Client(base_url=server.url, timeout=120, trust_env=False) as http:
        before = http.post("/search", json={"query": "梦创社区服务多少家企业？"}).json()["results"]
        # Files shrinking under it: what once killed it with SIGBUS (memory-mapped token vectors).
        good = live_folder(damaged)
        damage(good / "late.npz", "truncate")
        assert http.post("/search", json={"query": "梦创社区服务多少家企业？"}).json()["results"] == before
        # A new build that is damaged: logged, and the previous one kept.
        bad = damaged / "builds" / "bad-build"
        shutil.copytree(good, bad, copy_function=shutil.copy)
        damage(bad / "chunks.json", "truncate")
        (damaged / CURRENT).write_text("bad-build")
        assert http.post("/search", json={"query": "梦创社区服务多少家企业？"}).json()["results"] == before
        assert http.get("/health").status_code == 200
        # Never mapped: a small build's token codes are decoded at load, so cutting the file short
        # changes nothing served (a large build's are read per query: tests/test_late.py).
        (damaged / CURRENT).write_text(good.name)
        damage(good / "late_codes.bin", "truncate")
        after = http.post("/search", json={"query": "梦创社区服务多少家企业？"})
        assert after.status_code == 200 and after.json()["results"] == before, after.text
        log = server.log_tail(20000)
        assert httpx.get(f"{server.url}/health", trust_env=False).status_code == 200, log[-3000:]
    assert "index build bad-build could not be loaded" in log and "chunks.json has" in log


def test_the_next_build_removes_what_a_killed_build_left(damaged, searcher):
    half = damaged / "builds" / "20260101-000000-killed"
    half.mkdir()
    (half / "vectors.npy").write_bytes(b"\x93NUMPY half")
    ensure_index(SEEDS, damaged, searcher.embedder, tokens=searcher.tokens, force=True)
    assert not half.exists()
    assert [p.name for p in (damaged / "builds").iterdir()] == [live_build(damaged)]


def test_a_build_folder_is_read_only(index_dir):
    folder = live_folder(index_dir)
    assert not os.access(folder, os.W_OK) or os.geteuid() == 0  # root may write anyway; the modes say no
    assert folder.stat().st_mode & 0o222 == 0
    assert all(p.stat().st_mode & 0o222 == 0 for p in folder.iterdir())


def test_an_interrupted_build_resumes_from_its_encodings(tmp_path, index_dir, searcher, caplog):
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    sentences = "".join(f"第{i}项新举措让居民办事时间缩短了{i}分钟。" for i in range(1, 200))
    (corpus / "005_new.txt").write_text(f"改革项目：新举措\n\n上城：百项新举措\n\n张三 李四\n\n{sentences}\n", encoding="utf-8")
    own = copy_index(index_dir, tmp_path / "index")
    seen = []

    def stop_after_two_batches(done: int, total: int) -> None:
        seen.append(total)
        if done > 2 * ENCODE_BATCH:  # in the third batch: two were committed
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ensure_index(corpus, own, searcher.embedder, tokens=searcher.tokens, progress=stop_after_two_batches)
    assert live_build(own) == live_build(index_dir)  # the old build is still live
    first_total = seen[0]
    with caplog.at_level(logging.INFO, logger="touyan.index"):
        stored, _, reason = ensure_index(corpus, own, searcher.embedder, tokens=searcher.tokens, progress=lambda d, t: seen.append(t))
    assert reason == "the corpus files changed"
    assert seen[-1] <= first_total - 2 * ENCODE_BATCH  # what was encoded before the interruption was kept
    assert any(c.source == "005_new.txt" for c in stored.chunks)
