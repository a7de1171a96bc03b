"""Grounding documents for QA: a folder of .txt/.md files split into overlapping chunks."""

from __future__ import annotations

import re
from pathlib import Path

from synthwright.core.rowfiles import read_text


def chunk_text(text: str, size: int, overlap: int) -> list[str]:
    """Split on paragraph boundaries into chunks of about `size` characters, sharing `overlap`."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    chunks: list[str] = []
    current = ""
    for para in paragraphs:
        while len(para) > size:  # a paragraph longer than a chunk is cut at a sentence end where possible
            cut = para.rfind(". ", 0, size)
            cut = cut + 1 if cut > size // 2 else size
            pieces = (para[:cut].strip(), para[cut:].strip())
            if current:
                chunks.append(current)
                current = ""
            chunks.append(pieces[0])
            para = pieces[1]
        if current and len(current) + len(para) + 2 > size:
            chunks.append(current)
            tail = current[-overlap:] if overlap else ""
            current = (tail[tail.find(" ") + 1:] + "\n\n" if tail else "") + para
        else:
            current = f"{current}\n\n{para}" if current else para
    if current:
        chunks.append(current)
    return chunks


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def focus_points(chunk: str, max_chars: int = 300) -> list[str]:
    """The chunk's sentences that state something (four words or more; headings dropped), in order, each the focus of
    one question: a passage's questions then spread over all of it instead of all asking about its opening."""
    points = []
    for sentence in _SENTENCE_END.split(chunk):
        sentence = sentence.strip()
        if sentence.startswith("#") or len(sentence.split()) < 4 or (not points and sentence[:1].islower()):
            continue  # a heading, a fragment, or the tail of the previous chunk that the overlap repeats
        sentence = sentence.lstrip("*-• ").strip()
        if len(sentence) > max_chars:
            sentence = sentence[:max_chars].rsplit(" ", 1)[0] + " …"
        points.append(sentence)
    return list(dict.fromkeys(points)) or [chunk.strip()[:max_chars]]


def load_chunks(folder: Path, size: int, overlap: int) -> dict[str, str]:
    """Chunk id ('file.md#2') → chunk text, in a stable order."""
    chunks: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".txt", ".md") and p.is_file()):
        for i, chunk in enumerate(chunk_text(read_text(path, "document"), size, overlap)):
            chunks[f"{path.relative_to(folder).as_posix()}#{i}"] = chunk
    return chunks
