"""A fake Qdrant server: the REST calls qdrant-client makes for `VectorMemory`, really served.

`FakeQdrant` serves on 127.0.0.1 with an ephemeral port from its own thread (qdrant-client is
synchronous), over HTTPS when given a certificate (`self_signed_certificate`). It keeps
collections and points in memory and answers like a Qdrant 1.x server:

- `GET /` (open even with an api key, as on the server): the title and a version with the
  installed client's major.minor, so the client's compatibility check passes quietly;
- `GET /collections/{name}/exists`, `PUT /collections/{name}` (one unnamed dense vector: size
  and distance), `PUT /collections/{name}/index` (payload indexes, kept by type);
- points: upsert `PUT .../points`, retrieve `POST .../points`, `POST .../points/payload`,
  `PUT .../points/vectors`, `POST .../points/delete` (ids or filter), `POST .../points/query`
  (nearest to a dense vector by the collection's distance; filter, limit, offset,
  score_threshold, with_payload, with_vector), `POST .../points/scroll` (filter, limit, offset,
  or order_by, which needs a range index on its key as on the server), `POST .../points/count`.

Filters are evaluated for real: must / should / must_not, nested filters, and field conditions
`match` (value, any) and `range`, with Qdrant's typed equality. Cosine collections store unit
vectors, as the server does. Answers use Qdrant's envelope `{"result", "status": "ok", "time"}`
(update results "completed" under `?wait=true`, else "acknowledged"); errors its shape
`{"status": {"error": ...}, "time"}` with the server's statuses and wording: 404 for a missing
collection or point, 409 for a collection that exists, 400 for a body that does not parse
("Format error in JSON body: ...", checked against the API schema: the OpenAPI models
qdrant-client ships, which forbid unknown fields) or does not fit ("Wrong input: Vector dimension
error: ..."). With an `api_key`, every other path needs the `api-key` header (or `Authorization:
Bearer`), else 401 in plain text, as the server answers. What the fake does not model (named or
sparse vectors, prefetch, batches, other conditions...) answers 501, so a test cannot pass by
accident. Every request is recorded with the status it got.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import importlib.metadata
import json
import math
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter, ValidationError
from qdrant_client.http import models

Json = dict[str, Any]
PointId = int | str
Predicate = Callable[["Point"], bool]

TITLE = "qdrant - vector search engine"
RANGE_INDEXES = ("integer", "float", "datetime")
_OPEN_PATHS = ("/", "/healthz")
_OPEN_PREFIXES = ("/readyz", "/livez")


def server_version() -> str:
    """A server version the installed client calls compatible: its own major.minor."""
    major, minor, *_ = importlib.metadata.version("qdrant-client").split(".")
    return f"{major}.{minor}.0"


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (and localhost), made by the openssl command."""
    cert, key = directory / "qdrant-cert.pem", directory / "qdrant-key.pem"
    options = "-x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    names = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", *options.split(), *names, *files], check=True, capture_output=True
    )
    return cert, key


@dataclass
class Recorded:
    """One request as it arrived (header names in lower case, the body parsed when it is JSON),
    and the status it got."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw: bytes = b""
    status: int = 0


@dataclass
class Point:
    id: PointId
    vector: list[float]
    payload: Json
    version: int


@dataclass
class Collection:
    """One collection: a single unnamed dense vector per point, and its payload indexes."""

    size: int
    distance: str
    points: dict[PointId, Point] = field(default_factory=dict)
    indexes: dict[str, str] = field(default_factory=dict)
    operations: int = 0


class QdrantError(Exception):
    """An answer in Qdrant's error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _unmodelled(what: str) -> QdrantError:
    return QdrantError(501, f"FakeQdrant does not model {what}")


@dataclass
class Call:
    """What an operation gets: the collection name from the path, the query, the JSON body."""

    name: str
    query: dict[str, str]
    body: Any


Operation = Callable[[Call], Any]


class FakeQdrant:
    """`with FakeQdrant(api_key) as fake:` serves until the block ends; `fake.base_url`."""

    def __init__(
        self, api_key: str | None = None, certificate: tuple[Path, Path] | None = None
    ) -> None:
        self.api_key = api_key
        self.certificate = certificate
        self.version = server_version()
        self.collections: dict[str, Collection] = {}
        self.requests: list[Recorded] = []
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._sockets: list[Any] = []  # each connection's socket, closed at last by `_stop`
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> FakeQdrant:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._root)
        for method, path, operation in self._operations():
            app.router.add_route(method, path, self._serve(operation))
        app.router.add_route("*", "/{tail:.*}", self._serve(self._other))
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        tls = None
        if self.certificate is not None:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(*self.certificate)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        scheme = "https" if tls is not None else "http"
        self.base_url = f"{scheme}://127.0.0.1:{port}"

    async def _stop(self) -> None:
        """Stop serving, then let the closed connections finish closing (a TLS close takes a few
        turns of the loop), so no socket outlives the loop."""
        if self._runner is not None:
            await self._runner.cleanup()
        deadline = time.monotonic() + 5
        while any(sock.fileno() != -1 for sock in self._sockets) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    def _operations(self) -> list[tuple[str, str, Operation]]:
        one, points = "/collections/{name}", "/collections/{name}/points"
        return [
            ("GET", f"{one}/exists", self._exists),
            ("PUT", one, self._create),
            ("PUT", f"{one}/index", self._index),
            ("PUT", points, self._upsert),
            ("POST", points, self._retrieve),
            ("POST", f"{points}/payload", self._set_payload),
            ("PUT", f"{points}/vectors", self._update_vectors),
            ("POST", f"{points}/delete", self._delete),
            ("POST", f"{points}/query", self._query),
            ("POST", f"{points}/scroll", self._scroll),
            ("POST", f"{points}/count", self._count),
        ]

    # --- what tests look at -------------------------------------------------------------------

    def calls(self, method: str, path: str) -> list[Recorded]:
        """The recorded requests with this method and exact path."""
        return [r for r in self.requests if r.method == method and r.path == path]

    def failures(self) -> list[Recorded]:
        """The requests that got an error status."""
        return [r for r in self.requests if r.status >= 400]

    def wait_for(self, method: str, path: str, count: int, timeout: float = 5.0) -> None:
        """Block until `count` answered requests of `method` and `path` have been seen."""
        deadline = time.monotonic() + timeout
        while sum(1 for r in self.calls(method, path) if r.status) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} × {method} {path} not seen in {timeout} s")
            time.sleep(0.01)

    # --- HTTP ---------------------------------------------------------------------------------

    async def _root(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        recorded.status = 200
        return web.json_response({"title": TITLE, "version": self.version, "commit": "fake"})

    def _serve(self, operation: Operation) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            started = time.perf_counter()
            recorded = await self._record(request)
            denial = self._denial(request)
            if denial is not None:
                recorded.status = 401
                return web.Response(status=401, text=denial)
            try:
                body = _json_body(recorded.raw)
                name = request.match_info.get("name", "")
                result = operation(Call(name, recorded.query, body))
            except QdrantError as error:
                recorded.status = error.status
                answer = {"status": {"error": error.message}, "time": _since(started)}
                return web.json_response(answer, status=error.status)
            recorded.status = 200
            return web.json_response({"result": result, "status": "ok", "time": _since(started)})

        return handler

    async def _record(self, request: web.Request) -> Recorded:
        raw = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        recorded = Recorded(request.method, request.path, dict(request.query), headers, body, raw)
        self.requests.append(recorded)
        if request.transport is not None:
            self._sockets.append(request.transport.get_extra_info("socket"))
        return recorded

    def _denial(self, request: web.Request) -> str | None:
        path = request.path
        if self.api_key is None or path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
            return None
        key = request.headers.get("api-key")
        bearer = request.headers.get("Authorization", "")
        if key is None and bearer.startswith("Bearer "):
            key = bearer.removeprefix("Bearer ")
        if key is None:
            return "Must provide an API key or an Authorization bearer token"
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return "Invalid API key or JWT"
        return None

    def _other(self, call: Call) -> Any:
        raise _unmodelled("this request (method and path)")

    # --- collections --------------------------------------------------------------------------

    def _collection(self, name: str) -> Collection:
        if name not in self.collections:
            raise QdrantError(404, f"Not found: Collection `{name}` doesn't exist!")
        return self.collections[name]

    def _exists(self, call: Call) -> Any:
        return {"exists": call.name in self.collections}

    def _create(self, call: Call) -> Any:
        _check(models.CreateCollection, call.body)
        vectors = call.body.get("vectors")
        if not isinstance(vectors, dict) or "size" not in vectors:
            raise _unmodelled("named vectors or collections without a dense vector")
        if set(call.body) - {"vectors"} or call.body.get("sparse_vectors"):
            raise _unmodelled(f"collection options {sorted(set(call.body) - {'vectors'})}")
        if vectors["size"] < 1:
            raise QdrantError(
                422,
                "Validation error in JSON body: [vectors.size: value "
                f"{vectors['size']} invalid, must be 1 or larger]",
            )
        if call.name in self.collections:
            raise QdrantError(409, f"Wrong input: Collection `{call.name}` already exists!")
        self.collections[call.name] = Collection(vectors["size"], vectors["distance"])
        return True

    def _index(self, call: Call) -> Any:
        _check(models.CreateFieldIndex, call.body)
        collection = self._collection(call.name)
        schema = call.body.get("field_schema")
        kind = schema.get("type") if isinstance(schema, dict) else schema
        if not isinstance(kind, str):
            raise _unmodelled("a payload index without a field schema")
        collection.indexes[call.body["field_name"]] = kind
        return _updated(collection, call)

    # --- writing points -----------------------------------------------------------------------

    def _upsert(self, call: Call) -> Any:
        _check(models.PointInsertOperations, call.body)
        if "points" not in call.body or set(call.body) != {"points"}:
            raise _unmodelled("batches, shard keys, update filters and update modes")
        collection = self._collection(call.name)
        points = [
            (_point_id(p["id"]), _vector(collection, p["vector"]), p.get("payload") or {})
            for p in call.body["points"]
        ]
        update = _updated(collection, call)
        version = update["operation_id"]
        for point_id, vector, payload in points:
            collection.points[point_id] = Point(point_id, vector, dict(payload), version)
        return update

    def _set_payload(self, call: Call) -> Any:
        _check(models.SetPayload, call.body)
        if call.body.get("key") is not None or call.body.get("shard_key") is not None:
            raise _unmodelled("set payload by key or shard key")
        collection = self._collection(call.name)
        targets = self._targets(collection, call.body)
        update = _updated(collection, call)
        for point in targets:
            point.payload.update(call.body["payload"])
            point.version = update["operation_id"]
        return update

    def _update_vectors(self, call: Call) -> Any:
        _check(models.UpdateVectors, call.body)
        if set(call.body) != {"points"}:
            raise _unmodelled("update filters and shard keys on vector updates")
        collection = self._collection(call.name)
        changes = [
            (_existing(collection, _point_id(p["id"])), _vector(collection, p["vector"]))
            for p in call.body["points"]
        ]
        update = _updated(collection, call)
        for point, vector in changes:
            point.vector, point.version = vector, update["operation_id"]
        return update

    def _delete(self, call: Call) -> Any:
        _check(models.PointsSelector, call.body)
        collection = self._collection(call.name)
        if "points" in call.body:
            ids = [_point_id(i) for i in call.body["points"]]
        else:
            keep = _predicate(call.body.get("filter"))
            ids = [p.id for p in collection.points.values() if keep(p)]
        update = _updated(collection, call)
        for point_id in ids:
            collection.points.pop(point_id, None)
        return update

    def _targets(self, collection: Collection, body: Json) -> list[Point]:
        if body.get("points") is not None:
            return [_existing(collection, _point_id(i)) for i in body["points"]]
        if body.get("filter") is not None:
            keep = _predicate(body["filter"])
            return [p for p in collection.points.values() if keep(p)]
        raise QdrantError(400, "Bad request: Either list of point ids or filter must be provided")

    # --- reading points -----------------------------------------------------------------------

    def _retrieve(self, call: Call) -> Any:
        _check(models.PointRequest, call.body)
        collection = self._collection(call.name)
        with_payload = call.body.get("with_payload", True)
        with_vector = _with_vector(call.body.get("with_vector", False))
        ids = list(dict.fromkeys(_point_id(i) for i in call.body["ids"]))
        found = [collection.points[i] for i in ids if i in collection.points]
        return [_record(p, with_payload, with_vector) for p in found]

    def _query(self, call: Call) -> Any:
        _check(models.QueryRequest, call.body)
        unmodelled = {"prefetch", "lookup_from", "shard_key"} & set(call.body)
        if unmodelled or call.body.get("using") not in (None, ""):
            raise _unmodelled(f"query options {sorted(unmodelled) or ['using']}")
        collection = self._collection(call.name)
        keep = _predicate(call.body.get("filter"))
        candidates = [p for p in collection.points.values() if keep(p)]
        scored = _nearest(collection, call.body.get("query"), candidates)
        threshold = call.body.get("score_threshold")
        if threshold is not None:
            scored = [(s, p) for s, p in scored if _better_or_equal(collection, s, threshold)]
        offset, limit = call.body.get("offset") or 0, call.body.get("limit", 10)
        with_payload = call.body.get("with_payload", False)
        with_vector = _with_vector(call.body.get("with_vector", False))
        hits = [
            {**_record(p, with_payload, with_vector), "version": p.version, "score": score}
            for score, p in scored[offset : offset + limit]
        ]
        return {"points": hits}

    def _scroll(self, call: Call) -> Any:
        _check(models.ScrollRequest, call.body)
        if call.body.get("shard_key") is not None:
            raise _unmodelled("shard keys")
        collection = self._collection(call.name)
        keep = _predicate(call.body.get("filter"))
        points = sorted((p for p in collection.points.values() if keep(p)), key=_id_order)
        limit = call.body.get("limit", 10)
        with_payload = call.body.get("with_payload", True)
        with_vector = _with_vector(call.body.get("with_vector", False))
        order_by = call.body.get("order_by")
        if order_by is not None:
            ordered = _ordered(collection, points, order_by, call.body.get("offset"))
            records = [
                {**_record(p, with_payload, with_vector), "order_value": value}
                for value, p in ordered[:limit]
            ]
            return {"points": records, "next_page_offset": None}
        offset = call.body.get("offset")
        if offset is not None:
            start = _id_order_of(_point_id(offset))
            points = [p for p in points if _id_order(p) >= start]
        page, rest = points[:limit], points[limit:]
        return {
            "points": [_record(p, with_payload, with_vector) for p in page],
            "next_page_offset": rest[0].id if rest else None,
        }

    def _count(self, call: Call) -> Any:
        _check(models.CountRequest, call.body)
        collection = self._collection(call.name)
        keep = _predicate(call.body.get("filter"))
        return {"count": sum(1 for p in collection.points.values() if keep(p))}


# --- bodies ------------------------------------------------------------------------------------


def _json_body(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as error:
        raise QdrantError(400, f"Format error in JSON body: {error}") from error


@functools.cache
def _schema(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _check(model: Any, body: Any) -> None:
    """400 in Qdrant's words when `body` does not fit the API's schema for this request."""
    try:
        _schema(model).validate_python(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise QdrantError(400, f"Format error in JSON body: {where}: {first['msg']}") from error


def _point_id(value: Any) -> PointId:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise QdrantError(
        400,
        f"Format error in JSON body: value {value} is not a valid point ID, "
        "valid values are either an unsigned integer or a UUID",
    )


def _id_order_of(point_id: PointId) -> tuple[int, int]:
    return (0, point_id) if isinstance(point_id, int) else (1, uuid.UUID(point_id).int)


def _id_order(point: Point) -> tuple[int, int]:
    return _id_order_of(point.id)


def _existing(collection: Collection, point_id: PointId) -> Point:
    if point_id not in collection.points:
        raise QdrantError(404, f"Not found: No point with id {point_id} found")
    return collection.points[point_id]


def _vector(collection: Collection, value: Any) -> list[float]:
    """The stored form of a dense vector: checked against the collection, unit length for
    Cosine (the server normalizes on the way in)."""
    if not isinstance(value, list) or not all(isinstance(x, int | float) for x in value):
        raise _unmodelled("named, sparse or multi vectors, or documents to embed")
    if len(value) != collection.size:
        raise QdrantError(
            400,
            "Wrong input: Vector dimension error: expected dim: "
            f"{collection.size}, got {len(value)}",
        )
    vector = [float(x) for x in value]
    if collection.distance != "Cosine":
        return vector
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else vector


def _updated(collection: Collection, call: Call) -> Json:
    collection.operations += 1
    waited = call.query.get("wait", "false") == "true"
    return {
        "operation_id": collection.operations,
        "status": "completed" if waited else "acknowledged",
    }


def _with_vector(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _unmodelled("with_vector by vector names")


def _record(point: Point, with_payload: Any, with_vector: bool) -> Json:
    return {
        "id": point.id,
        "payload": _selected(point.payload, with_payload),
        "vector": list(point.vector) if with_vector else None,
    }


def _selected(payload: Json, selector: Any) -> Json | None:
    """The payload as `with_payload` asks: all, none, or these keys."""
    if selector is True:
        return dict(payload)
    if selector is False or selector is None:
        return None
    if isinstance(selector, list):
        return {k: v for k, v in payload.items() if k in selector}
    raise _unmodelled(f"with_payload {selector!r}")


# --- search and order --------------------------------------------------------------------------


def _nearest(collection: Collection, query: Any, points: list[Point]) -> list[tuple[float, Point]]:
    """Points by their score against the query vector, best first (ties by id)."""
    if isinstance(query, dict) and set(query) == {"nearest"}:
        query = query["nearest"]
    if not isinstance(query, list):
        raise _unmodelled(f"queries other than a dense vector: {str(query)[:80]}")
    target = _vector(collection, query)
    scored = [(_score(collection.distance, target, p.vector), p) for p in points]
    ascending = collection.distance in ("Euclid", "Manhattan")
    return sorted(scored, key=lambda sp: (sp[0] if ascending else -sp[0], _id_order(sp[1])))


def _score(distance: str, a: list[float], b: list[float]) -> float:
    if distance in ("Cosine", "Dot"):  # Cosine vectors are stored at unit length
        return math.fsum(x * y for x, y in zip(a, b, strict=True))
    if distance == "Euclid":
        return math.sqrt(math.fsum((x - y) ** 2 for x, y in zip(a, b, strict=True)))
    return math.fsum(abs(x - y) for x, y in zip(a, b, strict=True))


def _better_or_equal(collection: Collection, score: float, threshold: float) -> bool:
    if collection.distance in ("Euclid", "Manhattan"):
        return score <= threshold
    return score >= threshold


def _ordered(
    collection: Collection, points: list[Point], order_by: Any, offset: Any
) -> list[tuple[float, Point]]:
    """Points by a payload number, as `order_by` asks; the key needs a range index."""
    spec = {"key": order_by} if isinstance(order_by, str) else order_by
    key = spec["key"]
    if collection.indexes.get(key) not in RANGE_INDEXES:
        raise QdrantError(
            400,
            f"Bad request: No range index for `order_by` key: `{key}`. Please "
            "create one to use `order_by`. Check https://qdrant.tech/"
            "documentation/concepts/indexing/#payload-index to see which "
            "payload schemas support Range conditions",
        )
    if offset is not None:
        raise QdrantError(400, "Bad request: Can't use an `offset` with `order_by`")
    if spec.get("start_from") is not None:
        raise _unmodelled("order_by start_from")
    descending = spec.get("direction") == "desc"
    valued = [(v, p) for p in points for v in _numbers(p.payload, key)[:1]]
    return sorted(valued, key=lambda vp: (-vp[0] if descending else vp[0], _id_order(vp[1])))


# --- filters -----------------------------------------------------------------------------------


def _predicate(spec: Any) -> Predicate:
    """A filter compiled to a test of one point; what the fake does not model fails here, at once,
    even when the collection is empty."""
    if spec is None:
        return lambda _: True
    if not isinstance(spec, dict):
        raise QdrantError(400, "Format error in JSON body: filter must be an object")
    if spec.get("min_should") is not None:
        raise _unmodelled("min_should")
    must = [_condition(c) for c in _listed(spec.get("must"))]
    should = [_condition(c) for c in _listed(spec.get("should"))]
    must_not = [_condition(c) for c in _listed(spec.get("must_not"))]

    def test(point: Point) -> bool:
        return (
            all(c(point) for c in must)
            and not any(c(point) for c in must_not)
            and (not should or any(c(point) for c in should))
        )

    return test


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _condition(spec: Json) -> Predicate:
    if "key" in spec:
        return _field_condition(spec)
    if {"must", "should", "must_not"} & set(spec):
        return _predicate(spec)
    raise _unmodelled(f"the condition {sorted(spec)}")


def _field_condition(spec: Json) -> Predicate:
    key, kinds = spec["key"], set(spec) - {"key"}
    if "[]" in key or kinds not in ({"match"}, {"range"}):
        raise _unmodelled(f"the field condition {sorted(spec)} on `{key}`")
    if "range" in spec:
        return _range(key, spec["range"])
    match = spec["match"]
    if set(match) == {"value"}:
        target = match["value"]
        return lambda point: any(_same(v, target) for v in _values(point.payload, key))
    if set(match) == {"any"}:
        options = match["any"]
        return lambda point: any(_same(v, o) for v in _values(point.payload, key) for o in options)
    raise _unmodelled(f"the match {sorted(match)}")


def _range(key: str, bounds: Json) -> Predicate:
    if not set(bounds) <= {"lt", "gt", "gte", "lte"} or not all(
        isinstance(b, int | float) for b in bounds.values() if b is not None
    ):
        raise _unmodelled(f"the range {bounds} (datetime ranges)")

    def inside(value: float) -> bool:
        checks = (
            ("lt", value.__lt__),
            ("gt", value.__gt__),
            ("gte", value.__ge__),
            ("lte", value.__le__),
        )
        return all(bounds.get(name) is None or check(bounds[name]) for name, check in checks)

    return lambda point: any(inside(v) for v in _numbers(point.payload, key))


def _same(value: Any, target: Any) -> bool:
    """Qdrant's equality: keywords, integers and booleans never match one another."""
    return type(value) is type(target) and value == target


def _values(payload: Json, key: str) -> list[Any]:
    """The values under a (dotted) key: an array's elements, a scalar, or none."""
    value: Any = payload
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return []
    return [v for v in value if v is not None] if isinstance(value, list) else [value]


def _numbers(payload: Json, key: str) -> list[float]:
    return [
        float(v)
        for v in _values(payload, key)
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 6)
