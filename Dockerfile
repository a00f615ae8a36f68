FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY novacast novacast
COPY bot bot
COPY adapters adapters
COPY pipeline pipeline
COPY workers workers
COPY policy policy
COPY prompts prompts
RUN pip install .
# the embedding model, converted once to ONNX at build time: the bot and the workers run it
# without torch (pipeline/memory/onnx_export.py)
ENV NOVACAST_MODEL_DIR=/app/models
RUN python -m pipeline.memory.onnx_export
VOLUME ["/data"]
CMD ["novacast", "up"]
