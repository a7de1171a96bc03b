"""Language identification with lingua: offline (its models ship in the wheel), good on short texts."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from synthwright.core.errors import ConfigError

_ROLE_PREFIX = re.compile(r"^(?:user|assistant):\s*", re.M)
MAX_CHARS = 400


def available() -> bool:
    try:
        import lingua  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=2)
def detector(accuracy: str = "low") -> Any:
    from lingua import LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models()
    if accuracy == "low":
        builder = builder.with_low_accuracy_mode()
    return builder.build()


@lru_cache(maxsize=32)
def pair_detector(expected: Any, other: Any) -> Any:
    """lingua's high-accuracy mode between two languages only: cheap to build, and reliable on short texts."""
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(expected, other).build()


def language_for(code: str) -> Any:
    """lingua's Language for an ISO 639-1 code such as 'en' or 'pt-BR'; ConfigError when unknown."""
    from lingua import IsoCode639_1, Language

    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code.split("-")[0].split("_")[0].lower()))
    except ValueError:
        raise ConfigError(f"The language filter cannot identify language '{code}';"
                          " set filters.language.enabled: false or use an ISO 639-1 code such as 'en'.") from None


def check(texts: list[str], code: str, *, min_chars: int, min_confidence: float, accuracy: str) -> list[str | None]:
    """For each text: None if it may be in `code`, else the language it is confidently written in."""
    expected = language_for(code)
    det = detector(accuracy)
    # A few hundred characters decide the language as well as the whole text, at a fraction of the cost.
    cleaned = [_ROLE_PREFIX.sub("", t).strip()[:MAX_CHARS] for t in texts]
    todo = [i for i, t in enumerate(cleaned) if len(t) >= min_chars]
    scored = dict(zip(todo, det.compute_language_confidence_values_in_parallel([cleaned[i] for i in todo])))
    out: list[str | None] = []
    for i in range(len(texts)):
        values = scored.get(i)
        if not values or values[0].language == expected:
            out.append(None)
            continue
        # Slangy or terse text in the right language often scores as a mix of unrelated languages;
        # text really in another language gets that language near 1.0. Only the latter is rejected.
        top = values[0]
        if top.value >= min_confidence and accuracy == "low":
            # low accuracy is overconfident on short English ("Poor customer. Can't find the missing card." → Dutch
            # 0.87): the flagged language must also beat the expected one in high accuracy, between those two only
            top = _confirm(cleaned[i], expected, top.language)
        if top is None or top.value < min_confidence:
            out.append(None)
        else:
            out.append(f"{top.language.name.title()} ({top.language.iso_code_639_1.name.lower()}, confidence {top.value:.2f})")
    return out


def _confirm(text: str, expected: Any, other: Any) -> Any:
    """The flagged language's confidence against the expected one alone, or None when the expected one wins."""
    values = pair_detector(expected, other).compute_language_confidence_values(text)
    return values[0] if values and values[0].language == other else None
