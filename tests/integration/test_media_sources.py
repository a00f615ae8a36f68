"""Pexels, Pixabay and generated images over real httpx and the real OpenAI SDK, against the
wire fakes: the exact requests sent, the candidates made of the documented answers, rate limits
(a short 429 is waited out, a long one moves on at once), outages, size caps, and the files
themselves checked by their facts (codec, size, length, colour)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from pipeline.llm.config import ImagesConfig, ModelsError, load_models, parse_models
from pipeline.media import web
from pipeline.media.generated import GeneratedImages
from pipeline.media.model import (
    Candidate,
    MediaKind,
    MediaQuery,
    MediaRefused,
    Orientation,
    SourceUnavailable,
)
from pipeline.media.pexels import PexelsSource, photo_url
from pipeline.media.pixabay import PixabaySource
from pipeline.probe import frame_at, probe
from tests.fakes.openai_api import FakeOpenAI, colour_of
from tests.fakes.pexels_api import Item, PexelsFake
from tests.fakes.pixabay_api import PixabayFake

CATALOGUE = [
    Item(11, "video", "#e63946", "octopus swimming in the sea", "Ana Lima",
         renditions=((180, 320), (720, 1280))),
    Item(12, "video", "#457b9d", "octopus hearts blood", "Ben Ode", seconds=2.0),
    Item(13, "video", "#2a9d8f", "octopus reef wide shot", "Cy Twombly", width=640, height=360),
    Item(14, "photo", "#f4a261", "octopus on a rock", "Dee Ray"),
    Item(15, "photo", "#264653", "coral reef fish", "Eve Park", width=640, height=360),
    Item(16, "video", "#ffb703", "octopus ink cloud", "Fay Wong", safe=False),
]
QUERY = MediaQuery(text="octopus hearts", orientation=Orientation.PORTRAIT)


@pytest.fixture(scope="module")
def pexels() -> Iterator[PexelsFake]:
    with PexelsFake(CATALOGUE) as fake:
        yield fake


@pytest.fixture(scope="module")
def pixabay() -> Iterator[PixabayFake]:
    with PixabayFake(CATALOGUE) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(request: pytest.FixtureRequest) -> None:
    """Each test reads only its own requests from the shared fakes."""
    for name in ("pexels", "pixabay"):
        if name in request.fixturenames:
            fresh(request, name)


def fresh(request: pytest.FixtureRequest, service: str) -> PexelsFake:
    """The shared fake of `service`, its record cleared (PixabayFake has the same face)."""
    fake: PexelsFake = request.getfixturevalue(service)
    fake.requests.clear()
    fake.chunked_media = False
    return fake


def colour_at(path: Path, seconds: float = 0.0) -> tuple[int, int, int]:
    frame = frame_at(path, seconds)
    r, g, b = (int(v) for v in frame[frame.shape[0] // 2, frame.shape[1] // 2])
    return r, g, b


def close_to(rgb: tuple[int, int, int], hex_colour: str, tolerance: int = 12) -> bool:
    want = [int(hex_colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
    return bool(np.max(np.abs(np.array(rgb) - np.array(want))) <= tolerance)


# --- Pexels ------------------------------------------------------------------------------------


def test_pexels_requests_are_the_documented_ones(pexels: PexelsFake) -> None:
    pexels.source().search(QUERY)
    videos, photos = pexels.api_calls()
    assert (videos.method, videos.path, photos.path) == ("GET", "/videos/search", "/v1/search")
    for call in (videos, photos):
        assert call.headers["Authorization"] == pexels.api_key  # the bare key, no "Bearer"
        assert call.query == {"query": "octopus hearts", "orientation": "portrait",
                              "per_page": "15"}
        assert call.headers["User-Agent"].startswith("NOVACAST/")


def test_pexels_answers_become_candidates(pexels: PexelsFake) -> None:
    found = pexels.source().search(QUERY)
    # portrait only (the API filters), octopus+hearts first; the 2 s clip too (no minimum asked)
    assert [c.key for c in found] == ["pexels:12", "pexels:11", "pexels:16", "pexels:14"]
    clip = found[1]
    assert (clip.kind, clip.duration, clip.orientation) == (MediaKind.VIDEO, 3.0,
                                                            Orientation.PORTRAIT)
    assert (clip.width, clip.height) == (720, 1280)  # no 1080 file: the largest there is
    assert clip.credit == "Video by Ana Lima on Pexels"
    assert clip.licence == "Pexels License"
    assert clip.page_url == "https://www.pexels.com/video/octopus-swimming-in-the-sea-11/"
    assert clip.text == "octopus swimming in the sea"
    photo = found[3]
    assert (photo.kind, photo.duration, photo.credit) == (MediaKind.PHOTO, None,
                                                          "Photo by Dee Ray on Pexels")
    assert photo.text == "octopus on a rock"
    thumbnail = web.fetch_bytes(clip.thumbnail_url, 100_000)
    assert thumbnail.startswith(b"\xff\xd8\xff")  # a JPEG


def test_pexels_picks_the_smallest_file_reaching_the_short_side(pexels: PexelsFake) -> None:
    found = pexels.source(short_side=360).search(MediaQuery(text="swimming"))
    assert (found[0].width, found[0].height) == (360, 640)  # not 720x1280, not 180x320


def test_pexels_leaves_out_clips_shorter_than_asked(pexels: PexelsFake) -> None:
    query = MediaQuery(text="octopus", min_seconds=2.5, kinds=frozenset({MediaKind.VIDEO}))
    assert [c.id for c in pexels.source().search(query)] == ["11", "16"]
    assert [c.path for c in pexels.api_calls()] == ["/videos/search"]


def test_pexels_landscape_search(pexels: PexelsFake) -> None:
    query = MediaQuery(text="reef", orientation=Orientation.LANDSCAPE)
    found = pexels.source().search(query)
    assert [(c.key, c.orientation) for c in found] == [
        ("pexels:13", Orientation.LANDSCAPE), ("pexels:15", Orientation.LANDSCAPE)]


def test_pexels_download_is_a_playable_clip_of_its_colour(
    pexels: PexelsFake, tmp_path: Path
) -> None:
    source = pexels.source()
    clip = next(c for c in source.search(QUERY) if c.id == "11")
    path = source.download(clip, tmp_path / "clip.mp4")
    facts = probe(path)
    assert (facts.video_codec, facts.width, facts.height) == ("h264", 720, 1280)
    assert facts.duration == pytest.approx(3.0, abs=0.1)
    assert close_to(colour_at(path, 1.5), "#e63946")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no .part left
    into_dir = source.download(clip, tmp_path)
    assert into_dir == tmp_path / "pexels-11.mp4"


# --- Pixabay -----------------------------------------------------------------------------------


def test_pixabay_requests_are_the_documented_ones(pixabay: PixabayFake) -> None:
    pixabay.source().search(QUERY)
    videos, images = pixabay.api_calls()
    assert (videos.path, images.path) == ("/api/videos/", "/api/")
    assert "Authorization" not in videos.headers
    assert videos.query == {"key": pixabay.api_key, "q": "octopus hearts", "per_page": "15",
                            "safesearch": "true"}
    assert images.query == {"key": pixabay.api_key, "q": "octopus hearts", "per_page": "15",
                            "safesearch": "true", "image_type": "photo",
                            "orientation": "vertical"}


def test_pixabay_answers_become_candidates(pixabay: PixabayFake) -> None:
    found = pixabay.source().search(QUERY)
    # safesearch leaves the unsafe clip out; videos of the frame's shape first
    assert [c.key for c in found] == ["pixabay:12", "pixabay:11", "pixabay:13", "pixabay:14"]
    clip = found[1]
    assert (clip.width, clip.height, clip.duration) == (720, 1280, 3.0)
    assert clip.credit == "Video by Ana Lima on Pixabay"
    assert clip.licence == "Pixabay Content License"
    assert clip.text == "octopus, swimming, in, the, sea"
    assert clip.size_bytes == pixabay.file_size(CATALOGUE[0], 720, 1280)
    assert found[2].orientation is Orientation.LANDSCAPE  # the video API has no orientation
    photo = found[3]
    assert (photo.kind, photo.credit) == (MediaKind.PHOTO, "Photo by Dee Ray on Pixabay")


def test_pixabay_asks_at_least_three_and_keeps_the_limit(pixabay: PixabayFake) -> None:
    query = MediaQuery(text="octopus", limit=1, kinds=frozenset({MediaKind.VIDEO}))
    found = pixabay.source().search(query)
    assert len(found) == 1
    assert pixabay.api_calls()[0].query["per_page"] == "3"  # the API's minimum


def test_pixabay_download_is_a_real_photo(pixabay: PixabayFake, tmp_path: Path) -> None:
    source = pixabay.source()
    photo = next(c for c in source.search(QUERY) if c.kind is MediaKind.PHOTO)
    path = source.download(photo, tmp_path)
    assert path.name == "pixabay-14.jpg"
    assert (probe(path).width, probe(path).height) == (360, 640)
    assert close_to(colour_at(path), "#f4a261")


# --- rate limits, failures, outages ------------------------------------------------------------


@pytest.mark.parametrize("service", ["pexels", "pixabay"])
def test_a_short_rate_limit_is_waited_out(service: str, request: pytest.FixtureRequest) -> None:
    fake = fresh(request, service)
    fake.rate_limit_next(1, reset=1)
    started = time.monotonic()
    found = fake.source().search(MediaQuery(text="octopus", kinds=frozenset({MediaKind.VIDEO})))
    assert 0.9 <= time.monotonic() - started < 3.5
    assert found
    assert len(fake.api_calls()) == 2


@pytest.mark.parametrize("service", ["pexels", "pixabay"])
def test_a_long_rate_limit_moves_on_at_once(service: str, request: pytest.FixtureRequest) -> None:
    fake = fresh(request, service)
    fake.rate_limit_next(1, reset=3600)
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="limiting requests") as caught:
        fake.source().search(QUERY)
    assert time.monotonic() - started < 1.0
    assert len(fake.api_calls()) == 1
    assert fake.api_key not in str(caught.value)


@pytest.mark.parametrize("service", ["pexels", "pixabay"])
def test_a_server_error_is_a_plain_sentence(service: str, request: pytest.FixtureRequest) -> None:
    fake = fresh(request, service)
    fake.fail_next(1, 503)
    with pytest.raises(SourceUnavailable) as caught:
        fake.source().search(QUERY)
    message = str(caught.value)
    assert message.endswith(" is having trouble right now.")
    assert fake.api_key not in message
    assert len(fake.api_calls()) == 1  # a 5xx is not retried here: the next source is


@pytest.mark.parametrize("service", ["pexels", "pixabay"])
def test_a_hanging_api_times_out(service: str, request: pytest.FixtureRequest) -> None:
    fake = fresh(request, service)
    fake.fail_next(1, "hang")
    started = time.monotonic()
    with web.new_client(httpx.Timeout(0.5)) as quick, \
            pytest.raises(SourceUnavailable, match="did not answer in time"):
        fake.source(client=quick).search(QUERY)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(("fake_class", "wrong"), [(PexelsFake, 401), (PixabayFake, 400)])
def test_a_wrong_key_is_named_but_never_shown(fake_class: type[PexelsFake], wrong: int) -> None:
    with fake_class(CATALOGUE[:1]) as fake:
        secret = "sk-wrong-key-0000-do-not-print"
        source_class = PexelsSource if fake_class is PexelsFake else PixabaySource
        with pytest.raises(SourceUnavailable, match="did not accept the API key") as caught:
            source_class(secret, fake.url).search(QUERY)
        assert secret not in str(caught.value)
        assert fake.api_key not in str(caught.value)


def test_an_outage_is_a_plain_sentence() -> None:
    with PexelsFake(CATALOGUE[:1]) as fake:
        source = fake.source()
        assert source.search(QUERY)
        fake.stop()
        with pytest.raises(SourceUnavailable, match="Pexels could not be reached"):
            source.search(QUERY)


# --- downloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "streamed"])
def test_a_file_over_the_cap_is_refused(
    pexels: PexelsFake, tmp_path: Path, chunked: bool
) -> None:
    pexels.chunked_media = chunked
    source = pexels.source(max_bytes=2_000)
    clip = next(c for c in source.search(QUERY) if c.id == "11")
    with pytest.raises(MediaRefused, match="larger than the 2 kB limit"):
        source.download(clip, tmp_path / "clip.mp4")
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_a_streamed_file_under_the_cap_arrives_whole(pexels: PexelsFake, tmp_path: Path) -> None:
    pexels.chunked_media = True
    source = pexels.source()
    clip = next(c for c in source.search(QUERY) if c.id == "12")
    path = source.download(clip, tmp_path / "clip.mp4")
    media = next(r for r in pexels.requests if r.path.startswith("/media/"))
    assert media.path == "/media/12/360x640.mp4"
    assert probe(path).duration == pytest.approx(2.0, abs=0.1)


def test_only_web_addresses_are_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for you")
    for url in (f"file://{secret}", "ftp://example.com/a.mp4", "data:video/mp4;base64,AAAA"):
        with pytest.raises(MediaRefused, match="not a web address"):
            web.download_to(url, tmp_path / "out.mp4", 1_000_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.txt"]


def test_a_dead_link_is_refused(pexels: PexelsFake, tmp_path: Path) -> None:
    source = pexels.source()
    clip = source.search(QUERY)[0]
    gone = clip.model_copy(update={"download_url": f"{pexels.url}/media/999/1x1.mp4"})
    with pytest.raises(MediaRefused, match="no longer works"):
        source.download(gone, tmp_path / "gone.mp4")


def test_sources_come_from_the_environment(pexels: PexelsFake, pixabay: PixabayFake) -> None:
    assert PexelsSource.from_env({}) is None
    assert PixabaySource.from_env({"PIXABAY_API_KEY": "  "}) is None
    for source_class, fake in ((PexelsSource, pexels), (PixabaySource, pixabay)):
        source = source_class.from_env(fake.env)
        assert source is not None
        assert source.search(QUERY)
        assert fake.api_key not in repr(source)
    default = PexelsSource.from_env({"PEXELS_API_KEY": "k"})
    assert default is not None
    assert default.base_url == "https://api.pexels.com"


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "Thu, 01 Jan 2026 00:00:05 GMT"}, 5.0),
        ({"x-ratelimit-reset": "1767225604"}, 4.0),  # Pexels: a UNIX time
        ({"x-ratelimit-reset": "42"}, 42.0),  # Pixabay: seconds left
        ({}, None),
    ],
)
def test_rate_limit_waits_are_read_from_either_header(
    headers: dict[str, str], seconds: float | None
) -> None:
    now = 1767225600.0  # 2026-01-01 00:00:00 UTC
    assert web.wait_seconds(httpx.Headers(headers), now=now) == seconds


# --- generated images --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openai_api() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def generated(api: FakeOpenAI, **config: object) -> GeneratedImages:
    env = {"OPENAI_API_KEY": api.api_key, "OPENAI_BASE_URL": api.base_url}
    source = GeneratedImages.from_env(env, config=ImagesConfig.model_validate(config))
    assert source is not None
    return source


def test_generated_search_is_free_and_stable(openai_api: FakeOpenAI) -> None:
    before = len(openai_api.image_requests)
    source = generated(openai_api)
    [first] = source.search(QUERY)
    [again] = source.search(QUERY)
    [wide] = source.search(QUERY.model_copy(update={"orientation": Orientation.LANDSCAPE}))
    assert len(openai_api.image_requests) == before  # nothing was drawn yet
    assert first == again
    assert first.key != wide.key
    assert (first.kind, first.width, first.height) == (MediaKind.PHOTO, 1024, 1536)
    assert (wide.width, wide.height) == (1536, 1024)
    assert first.text.endswith(": octopus hearts")
    assert (first.licence, first.credit) == ("generated", "Image generated with gpt-image-1")
    assert source.search(QUERY.model_copy(update={"kinds": frozenset({MediaKind.VIDEO})})) == []


def test_generated_download_is_a_png_of_the_asked_size(
    openai_api: FakeOpenAI, tmp_path: Path
) -> None:
    source = generated(openai_api)
    [candidate] = source.search(QUERY)
    path = source.download(candidate, tmp_path)
    assert path == tmp_path / f"generated-{candidate.id}.png"
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    facts = probe(path)
    assert (facts.video_codec, facts.width, facts.height) == ("png", 1024, 1536)
    assert close_to(colour_at(path), colour_of(candidate.text), tolerance=2)
    call = openai_api.image_requests[-1]
    assert call.path == "/v1/images/generations"
    assert call.headers["authorization"] == f"Bearer {openai_api.api_key}"
    assert call.body == {"model": "gpt-image-1", "prompt": candidate.text, "size": "1024x1536",
                         "quality": "medium", "n": 1}


def test_generated_with_a_model_that_answers_a_url(
    openai_api: FakeOpenAI, tmp_path: Path
) -> None:
    source = generated(openai_api, model="dall-e-3", quality="standard",
                       sizes={"portrait": "1024x1792"})
    [candidate] = source.search(QUERY)
    path = source.download(candidate, tmp_path / "drawn.png")
    assert "response_format" not in openai_api.image_requests[-1].body  # DALL-E sends a url
    assert (probe(path).width, probe(path).height) == (1024, 1792)
    assert close_to(colour_at(path), colour_of(candidate.text), tolerance=2)


@pytest.mark.parametrize(
    ("mode", "sentence"),
    [
        ("429", "The image service is limiting requests right now, so another source is used."),
        ("500", "The image service is having trouble right now."),
        ("policy", "The image service declined to draw this picture, so another source is used."),
    ],
)
def test_generated_failures_are_plain_sentences(
    openai_api: FakeOpenAI, tmp_path: Path, mode: str, sentence: str
) -> None:
    source = generated(openai_api)
    [candidate] = source.search(QUERY)
    openai_api.fail_images_next(1, mode)
    with pytest.raises(SourceUnavailable) as caught:
        source.download(candidate, tmp_path)
    assert str(caught.value) == sentence
    assert list(tmp_path.iterdir()) == []


def test_generated_needs_a_key_and_never_shows_it(
    openai_api: FakeOpenAI, tmp_path: Path
) -> None:
    assert GeneratedImages.from_env({"OPENAI_BASE_URL": openai_api.base_url}) is None
    wrong = "sk-wrong-0123456789abcdef"
    source = GeneratedImages.from_env({"OPENAI_API_KEY": wrong,
                                       "OPENAI_BASE_URL": openai_api.base_url})
    assert source is not None
    [candidate] = source.search(QUERY)
    with pytest.raises(SourceUnavailable, match="did not accept the API key") as caught:
        source.download(candidate, tmp_path)
    assert wrong not in str(caught.value)


def test_generated_candidates_are_candidates() -> None:
    """What the shot chooser and the cache rely on: a key, a shape, no download address."""
    source = GeneratedImages("unused", "http://127.0.0.1:9")
    [candidate] = source.search(MediaQuery(text="a square", orientation=Orientation.SQUARE))
    assert isinstance(candidate, Candidate)
    assert candidate.key.startswith("generated:")
    assert (candidate.orientation, candidate.download_url) == (Orientation.SQUARE, "")


def test_a_download_past_its_time_is_given_up(pexels: PexelsFake, tmp_path: Path) -> None:
    """A server sending bytes slowly enough never trips a read timeout; the total time does."""
    pexels.chunked_media = True
    clip = next(c for c in pexels.source().search(QUERY) if c.id == "11")
    with pytest.raises(SourceUnavailable, match="did not send the file in time"):
        web.download_to(clip.download_url, tmp_path / "slow.mp4", 10**8, max_seconds=0.0)
    assert list(tmp_path.iterdir()) == []


def test_a_large_pexels_photo_is_asked_at_the_frame_size() -> None:
    original = "https://images.pexels.com/photos/2014422/pexels-photo-2014422.jpeg"
    assert photo_url(original, 4000, 6000) == (
        f"{original}?auto=compress&cs=tinysrgb&h=1920", 1280, 1920)
    assert photo_url(original, 1080, 1920) == (original, 1080, 1920)


def test_the_images_section_of_models_yaml_is_checked() -> None:
    assert load_models().images.sizes["portrait"] == "1024x1536"
    assert parse_models({"default": [{"provider": "openai", "model": "m"}]}).images.model == \
        "gpt-image-1"  # a models.yaml without the section keeps the defaults
    for broken in ({"sizes": {"portrait": "huge"}}, {"prompt": "no placeholder"},
                   {"quality": "ultra"}, {"colour": "red"}):
        with pytest.raises(ModelsError, match="images"):
            parse_models({"default": [{"provider": "openai", "model": "m"}], "images": broken})


def test_the_same_search_within_the_cache_time_costs_no_request(pexels: PexelsFake) -> None:
    env = {**pexels.env, "NOVACAST_STOCK_CACHE_SECONDS": "3600"}
    first, again = PexelsSource.from_env(env), PexelsSource.from_env(env)
    assert first is not None
    assert again is not None
    query = MediaQuery(text="octopus cache", kinds=frozenset({MediaKind.VIDEO}))
    assert first.search(query) == again.search(query)  # the process shares one cache
    assert len(pexels.api_calls()) == 1
    uncached = PexelsSource.from_env(pexels.env)  # the fakes' env turns the cache off
    assert uncached is not None
    uncached.search(query)
    assert len(pexels.api_calls()) == 2


def test_a_search_cache_forgets_after_its_time_and_past_its_size() -> None:
    cache = web.SearchCache(seconds=0.2, size=2)
    for name in ("a", "b", "c"):
        cache.put(name, {"hits": [name]})
    assert cache.get("a") is None  # the least recently used went first
    assert cache.get("c") == {"hits": ["c"]}
    time.sleep(0.25)
    assert cache.get("c") is None


@pytest.mark.parametrize("service", ["pexels", "pixabay"])
def test_an_unreadable_item_is_left_out(service: str, request: pytest.FixtureRequest) -> None:
    fake = fresh(request, service)
    fake.garbled = {12, 14}
    try:
        found = fake.source().search(QUERY)
    finally:
        fake.garbled = set()
    expected = ["11", "16"] if service == "pexels" else ["11", "13"]  # pixabay: safesearch
    assert [c.id for c in found] == expected
