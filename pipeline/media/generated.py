"""Pictures drawn for the words: the OpenAI Images API through the official SDK, as a source.

`search` costs nothing: it offers one candidate per query, a still at the size models.yaml
names for the frame's shape (`images.sizes`), whose `text` is the prompt made from the query
(`images.prompt`) and whose id is a short hash of model, size and prompt — so the same words
give the same candidate, and the media cache keeps what was drawn. `download` is the paid call
(`client.images.generate`, an SDK client per call unless one is given); the answer's
`b64_json` (GPT image models) or `url` (DALL-E's default, fetched size-bounded) must be a PNG,
written atomically. Every failure — a refused key, 429, 5xx, a timeout, a prompt the safety
system declines — is `SourceUnavailable` with one plain sentence, so the shot falls back to
the next source.

The SDK takes ~1 s to import: a registry imports this module only when OPENAI_API_KEY is set.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import openai

from pipeline.llm.config import ImagesConfig, load_models
from pipeline.media import web
from pipeline.media.model import (
    Candidate,
    MediaKind,
    MediaQuery,
    MediaRefused,
    SourceUnavailable,
)

NAME = "generated"
LICENCE = "generated"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 50_000_000
LABEL = "The image service"


class GeneratedImages:
    name = NAME

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        config: ImagesConfig | None = None,
        *,
        client: openai.OpenAI | None = None,
    ) -> None:
        self._key, self._base_url = api_key, base_url
        self.config = config or ImagesConfig()
        self._client = client
        """Used as it is and closed by its owner; None: a new SDK client per download."""

    def __repr__(self) -> str:
        return f"GeneratedImages({self.config.model!r})"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, config: ImagesConfig | None = None
    ) -> GeneratedImages | None:
        """A source from OPENAI_API_KEY (and OPENAI_BASE_URL) with models.yaml's `images`;
        None without a key."""
        env = os.environ if environ is None else environ
        key = env.get("OPENAI_API_KEY", "").strip()
        if not key:
            return None
        base_url = env.get("OPENAI_BASE_URL", "").strip() or None
        return cls(key, base_url, config or load_models().images)

    def search(self, query: MediaQuery) -> list[Candidate]:
        if MediaKind.PHOTO not in query.kinds:
            return []
        size = self.config.sizes[query.orientation.value]
        width, height = (int(side) for side in size.split("x"))
        prompt = self.config.prompt.replace("{query}", query.text)
        digest = hashlib.sha256(f"{self.config.model}|{size}|{prompt}".encode()).hexdigest()
        return [Candidate(
            source=self.name, id=digest[:16], kind=MediaKind.PHOTO, width=width, height=height,
            licence=LICENCE, credit=f"Image generated with {self.config.model}", text=prompt,
        )]

    def download(self, candidate: Candidate, into: Path) -> Path:
        target = into / f"generated-{candidate.id}.png" if into.is_dir() else into
        data = self._draw(candidate.text, f"{candidate.width}x{candidate.height}")
        if not data.startswith(PNG_SIGNATURE):
            raise MediaRefused("The image service sent a picture that is not a PNG.")
        _write(target, data)
        return target

    @contextlib.contextmanager
    def _session(self) -> Iterator[openai.OpenAI]:
        if self._client is not None:
            yield self._client
            return
        with openai.OpenAI(api_key=self._key, base_url=self._base_url, max_retries=0,
                           timeout=self.config.timeout) as client:
            yield client

    def _draw(self, prompt: str, size: str) -> bytes:
        try:
            with self._session() as client:
                response = client.images.generate(
                    model=self.config.model, prompt=prompt, size=size,
                    quality=self.config.quality, n=1)
        except openai.OpenAIError as error:
            raise SourceUnavailable(plain_error(error)) from None
        image = response.data[0] if response.data else None
        if image is not None and image.b64_json:
            try:
                return base64.b64decode(image.b64_json, validate=True)
            except (binascii.Error, ValueError):
                raise SourceUnavailable(f"{LABEL} sent a picture that could not be read.") from None
        if image is not None and image.url:
            return web.fetch_bytes(image.url, MAX_BYTES, label="the image service")
        raise SourceUnavailable(f"{LABEL} sent no picture.")


from_env = GeneratedImages.from_env
"""What the source registry calls: a source from the environment, None without a key."""

_PLAIN: tuple[tuple[type[openai.OpenAIError], str], ...] = (
    (openai.APITimeoutError, "did not answer in time."),
    (openai.APIConnectionError, "could not be reached."),
    (openai.AuthenticationError, "did not accept the API key, so another source is used."),
    (openai.PermissionDeniedError, "did not accept the API key, so another source is used."),
    (openai.RateLimitError, "is limiting requests right now, so another source is used."),
    (openai.InternalServerError, "is having trouble right now."),
)


def plain_error(error: openai.OpenAIError) -> str:
    """One sentence for an SDK failure; never the key, never the provider's own text."""
    if isinstance(error, openai.BadRequestError) and (
            error.code == "content_policy_violation" or "safety" in str(error.body).lower()):
        return f"{LABEL} declined to draw this picture, so another source is used."
    for kind, sentence in _PLAIN:
        if isinstance(error, kind):
            return f"{LABEL} {sentence}"
    return f"{LABEL} could not make this picture."


def _write(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temporary file beside it, so no reader sees half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                         dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
