"""The contract is the spec: schemathesis generates requests from /openapi.json, valid and invalid,
sends them to a running `touyan serve`, and runs every one of its checks on the answers (no
5xx, only documented statuses, content types and headers, bodies that match their schemas,
invalid data refused, valid data accepted, unsupported methods answered 405 with Allow). One
exception, in tests/schemathesis.toml: random bytes that fit the upload's schema are not a
readable document.

Run through schemathesis's own command (`st run`), as its users run it; its pytest plugin
does not load under pytest 9.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eval.serve_process import ServeProcess

ST = Path(sys.executable).with_name("st")
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.mark.parametrize("keys", [None, "contract-key"], ids=["open", "with-api-key"])
def test_every_operation_keeps_the_contract(index_dir, tmp_path, keys):
    env = {"TOUYAN_INDEX_DIR": str(index_dir), **({"TOUYAN_API_KEY": keys} if keys else {})}
    with ServeProcess(env=env) as server:
        auth = ["--header", f"Authorization: Bearer {keys}"] if keys else []
        run = subprocess.run(
            [str(ST), "--config-file", str(CONFIG), "run", f"{server.url}/openapi.json", "--checks", "all", "--max-examples", "25",
             "--workers", "1", "--seed", "14", "--suppress-health-check", "all", "--request-timeout", "120", *auth],
            capture_output=True, text=True, cwd=tmp_path,
        )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
