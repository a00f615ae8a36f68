"""Intent classification with an embedding fallback: rules first, then nearest examples.

The rules in `bot.intents` decide whenever they recognise a line. When they say UNKNOWN or
SMALLTALK, the line is compared (cosine similarity of MiniLM sentence embeddings) with labelled
examples per intent (`intent_examples.yaml`); the best intent wins if it clears a threshold.
Publishing, rejecting and cancelling need a wider margin, and small talk never turns into one of
them. An optional tie-breaker (e.g. an LLM call) settles near ties; it is never required.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bot.intents import Intent, IntentKind, Kind, MemoryKind, classify
from pipeline.memory import Embedder, embed

log = logging.getLogger(__name__)

EXAMPLES_PATH = Path(__file__).with_name("intent_examples.yaml")
THRESHOLD = 0.5
"""Best-example cosine similarity an intent needs to override the rules (tuned on the labelled
set in tests/data/intents.jsonl)."""
RISKY_MARGIN = 0.08
"""Extra similarity required for intents that publish, reject or drop work; they must also lead
the runner-up by `RISKY_LEAD`, and a negated line ("not publishable") never approves."""
RISKY_LEAD = 0.05
REFINE_MARGIN = 0.15
"""Extra similarity required to override the rules' own reading of a line as a refinement."""
TIE_MARGIN = 0.03
"""Scores this close count as a tie for the tie-breaker."""
DOUBT_BAND = 0.1
"""Below the threshold by at most this much: not confident, but worth asking a tie-breaker."""

UNSURE = frozenset({IntentKind.UNKNOWN, IntentKind.SMALLTALK, IntentKind.REFINE})
RISKY = frozenset({IntentKind.APPROVE, IntentKind.REJECT, IntentKind.CANCEL})
TieBreaker = Callable[[str, Sequence[str]], str | None]
"""(text, candidate intent names, best first) -> the chosen name, or None to abstain."""

_CONNECTOR = re.compile(r"\b(?:about|on|explaining|covering|regarding)\s+(?P<idea>\S.*)$", re.I)
_VERSION = re.compile(r"\bv(?:ersion)?\s*(\d{1,3})\b", re.IGNORECASE)
_REQUEST = re.compile(
    r"\b(?:video|clip|short|reel|explainer|tiktok|piece|one|something|project|make|create|"
    r"produce|whip|put\s+together|do|record)\b",
    re.IGNORECASE,
)
"""A new project needs a word that asks for one: a line that merely shares a topic does not."""
_NEGATION = re.compile(r"\b(?:not|no|never|nope|nah|don'?t|do\s+not|won'?t|can'?t)\b|n't\b", re.I)


@dataclass(frozen=True)
class Guess:
    kind: Kind
    score: float


def load_examples(path: Path = EXAMPLES_PATH) -> dict[Kind, list[str]]:
    """Examples per intent from YAML: `{intent name: [example, ...]}`."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {parse_kind(name): [str(t) for t in texts] for name, texts in raw.items()}


def parse_kind(name: str) -> Kind:
    try:
        return IntentKind(name)
    except ValueError:
        return MemoryKind(name)


class IntentModel:
    """`model(text) -> Intent`: a drop-in for `bot.intents.classify` with an embedding fallback."""

    def __init__(
        self,
        examples: Mapping[Kind, Sequence[str]] | None = None,
        embedder: Embedder = embed,
        threshold: float = THRESHOLD,
        tie_breaker: TieBreaker | None = None,
    ) -> None:
        self._examples = dict(examples) if examples is not None else load_examples()
        self._embed = embedder
        self.threshold = threshold
        self.tie_breaker = tie_breaker
        self._lock = threading.Lock()
        self._matrix: np.ndarray | None = None
        self._labels: list[Kind] = [k for k, texts in self._examples.items() for _ in texts]
        self._said_unavailable = False

    def __call__(self, text: str) -> Intent:
        rules = classify(text)
        stripped = text.strip()
        if rules.kind not in UNSURE or not stripped or stripped.startswith("/"):
            return rules
        try:
            guesses = self.guesses(stripped)
        except Exception as error:  # the model cannot load or run (e.g. no converted model and
            self._unavailable(error)  # nowhere to convert it): the rules alone still answer
            return rules
        return self._decide(stripped, rules, guesses)

    def _unavailable(self, error: Exception) -> None:
        if not self._said_unavailable:
            self._said_unavailable = True
            log.error("the embedding model is unavailable (%s: %s): intents come from the rules "
                      "alone", type(error).__name__, str(error)[:300])

    def warm(self) -> None:
        """Load the embedding model (ONNX Runtime) and embed the examples and one line now,
        rather than on the first unsure message: what the bot runs before it says it is ready."""
        self._example_matrix()
        self.guesses("warm up")

    warm_up = warm

    def guesses(self, text: str) -> list[Guess]:
        """Every intent with its best example's similarity to `text`, best first."""
        matrix = self._example_matrix()
        scores = matrix @ np.asarray(self._embed([text])[0], dtype=np.float32)
        best: dict[Kind, float] = {}
        for label, score in zip(self._labels, scores.tolist(), strict=True):
            best[label] = max(best.get(label, -1.0), score)
        return sorted((Guess(k, s) for k, s in best.items()), key=lambda g: -g.score)

    def _example_matrix(self) -> np.ndarray:
        with self._lock:
            if self._matrix is None:
                texts = [t for texts in self._examples.values() for t in texts]
                self._matrix = np.asarray(self._embed(texts), dtype=np.float32)
            return self._matrix

    def _decide(self, text: str, rules: Intent, guesses: list[Guess]) -> Intent:
        best = guesses[0]
        if self.tie_breaker is not None and self._doubtful(guesses):
            chosen = self._tie_break(text, guesses)
            if chosen is not None and (
                chosen.kind not in RISKY or _risky_allowed(text, chosen.kind, rules)
            ):
                return chosen
        if not self._convinced(text, rules, guesses):
            return rules
        return intent_for(best.kind, text)

    def _convinced(self, text: str, rules: Intent, guesses: list[Guess]) -> bool:
        best, second = guesses[0], guesses[1]
        if best.kind is rules.kind:
            return True
        if best.kind is IntentKind.MAKE and not _REQUEST.search(text):
            return False
        if best.score < self._needed(best.kind, rules.kind):
            return False
        if best.kind in RISKY:
            lead = best.score - second.score >= RISKY_LEAD
            return lead and _risky_allowed(text, best.kind, rules)
        return True

    def _needed(self, kind: Kind, ruled: Kind = IntentKind.UNKNOWN) -> float:
        extra = RISKY_MARGIN if kind in RISKY else 0.0
        return self.threshold + extra + (REFINE_MARGIN if ruled is IntentKind.REFINE else 0.0)

    def _doubtful(self, guesses: list[Guess]) -> bool:
        """A near tie, or a best guess just under what it needs."""
        best, second = guesses[0], guesses[1]
        if best.score < self.threshold - DOUBT_BAND:
            return False
        return best.score - second.score < TIE_MARGIN or best.score < self._needed(best.kind)

    def _tie_break(self, text: str, guesses: list[Guess]) -> Intent | None:
        floor = self.threshold - DOUBT_BAND
        candidates = [g.kind.value for g in guesses[:3] if g.score >= floor]
        chosen = self.tie_breaker(text, candidates) if self.tie_breaker else None
        if chosen is None or chosen not in candidates:
            return None
        return intent_for(parse_kind(chosen), text)


def _risky_allowed(text: str, kind: Kind, rules: Intent) -> bool:
    """Publishing, rejecting or dropping work never comes from small talk or a negated line
    ("don't publish yet"), whoever guessed it: the examples or an LLM tie-breaker."""
    negated = kind is IntentKind.APPROVE and _NEGATION.search(text) is not None
    return not negated and rules.kind is not IntentKind.SMALLTALK


def intent_for(kind: Kind, text: str) -> Intent:
    """The intent `kind` with the argument its handler expects, read from `text`."""
    if kind is IntentKind.MAKE:
        match = _CONNECTOR.search(text)
        return Intent(kind, match["idea"].strip() if match else text)
    if kind is IntentKind.UNDO:
        version = _VERSION.search(text)
        return Intent(kind, version.group(1) if version else "")
    if kind in (IntentKind.REFINE, IntentKind.SCHEDULE, IntentKind.TIMEZONE, IntentKind.UNKNOWN,
                MemoryKind.PREFERENCE):
        return Intent(kind, text)
    return Intent(kind)
