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
VOLUME ["/data"]
CMD ["novacast", "up"]
