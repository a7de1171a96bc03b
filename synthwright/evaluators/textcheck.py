"""Pattern checks on sample text: unfilled placeholders, refusals and meta-talk, leaked labels, gibberish.

Each check returns the offending snippet (truthy) or None, so that a filter can say why.
"""

from __future__ import annotations

import re

from synthwright.evaluators.pii import TOKENS

_PLACEHOLDER = re.compile(
    r"""\[[^\[\]\n]{0,40}\]                    # [Customer Name], [insert date], []
      | \{\{?[^{}\n]{0,40}\}?\}              # {name}, {{ name }}
      | <[A-Za-z][A-Za-z0-9_ .-]{0,30}>      # <NAME>, <date>
      | (?<![A-Za-z])[Xx]{3,}(?![A-Za-z])    # XXX, xxxx, 1234-XXXX
      | (?<![A-Za-z])[Xx]{2}[/.-][Xx0-9]{2}[/.-]  # XX/XX/2024
      | \b(?:MM|DD)[/.-](?:MM|DD)[/.-](?:YYYY|YY)\b
      | \blorem\s+ipsum\b
      | _{3,}                                # fill-in blanks
    """, re.X | re.I)

# Said by a model about itself, never by the person whose message we want.
_REFUSAL = re.compile(
    r"""\bas\ an\ ai\b | \bas\ a\ (?:large\ )?language\ model\b | \bai\ language\ model\b
      | \bas\ an?\ (?:machine[\ -]learning|ml|text-based|virtual|digital)\ (?:model|assistant)\b
      | \bi(?:'m|\ am)\ (?:just\ |only\ )?an\ ai\b | \bopenai\b
      | \bi(?:\ cannot|\ can't|\ can\ not|\ won't|\ am\ unable\ to|'m\ unable\ to)\ (?:fulfil+|comply\ with)\ (?:this|that|your)\ request
      | \bi(?:\ cannot|\ can't|\ can\ not|\ am\ unable\ to|'m\ unable\ to)\ (?:assist|help)\ with\ (?:this|that|your)\ request
      | \bsorry,?\ (?:but\ )?i(?:\ cannot|\ can't|\ can\ not|\ am\ unable\ to|'m\ unable\ to|'m\ not\ able\ to|\ couldn't)\ (?:assist|help)\b
      | \bi\ (?:cannot|can't|can\ not|couldn't)\ assist\ (?:you\ )?with\ (?:this|that)\b
    """, re.X | re.I)

# What a support agent or assistant says, or a narrator ("The customer wants…"), never the customer or user
# whose message a classifier will see.
_ASSISTANT_VOICE = re.compile(
    r"""\b(?:i'm|i\ am|we're|we\ are)\ (?:so\ |very\ |truly\ )?sorry\ to\ hear\b
      | \b(?:i'd|i\ would|i'll|i\ will|we'd|we\ would)\ be\ (?:happy|glad|delighted)\ to\ (?:help|assist)\b
      | \b(?:happy|glad)\ to\ (?:help|assist)\ (?:you|with)\b
      | \bhow\ (?:can|may)\ (?:i|we)\ (?:help\ you|assist)\b
      | \b(?:i'm|i\ am|we're|we\ are)\ (?:always\ )?here\ to\ (?:help|assist)\b
      | \b(?:i'd|i\ would)\ love\ to\ (?:help|assist)\b
      | \bwould\ you\ like\ me\ to\b
      | \bthank\ you\ for\ (?:contacting|reaching\ out|choosing|your\ (?:patience|inquiry|enquiry|message|question))\b
      | \bi\ understand\ (?:your|how\ (?:frustrating|stressful))\b
      | \b(?:i'll|i\ will|let\ me)\ (?:look\ into|check\ (?:on\ )?(?:this|that|your)|help\ you\ with)\b
      | \bfeel\ free\ to\ (?:ask|reach|contact|let)\b
      | \bis\ there\ anything\ else\ (?:i|we)\ can\b
      | \b(?:can|could)\ you\ (?:please\ )?provide\ (?:me\ with\ )?(?:more|some|additional|further)\ (?:details|information)\b
      | \bplease\ provide\ (?:me\ with\ )?(?:more|some|additional|further|your)\ (?:details|information|account)\b
      | \b(?:i|we)\ apologi[sz]e\ for\ (?:the|any)\ inconvenience\b
      | \bour\ (?:team|support\ team|customer\ service)\ will\b
      | ^\W*(?:the|this|a|our)\ (?:customer|user|client|reviewer|caller)\b(?!\ service)  # a narrator, not the person
      | ^\W*(?:[\w-]+\s+){0,3}?(?:customer|user|client|caller|shopper)s?(?!\s+(?:service|support|care))
        (?=\s+(?:is|was|has|had|wants?|wanted|needs?|asks?|asked|reports?|says|said|would|complains?|can|cannot
               |can't|does|did|hopes?|apologi[sz]es|types?|writes?|requests?|inquires?|sees|received)\b)
      | ^\W*(?:customer|user|client)s?\ of\ (?:a|an|the)\ [\w\s-]{0,40}?\b(?:asks?|wants?|needs?|reports?|says|complains?)\b
      | ^\W*(?:customer|user|client|agent|bank|support|assistant|representative)\s*:  # a speaker's label
      | \b(?:dear|hello|hi|hey(?:\ there)?|greetings),?\ (?:valued\ |our\ )?(?:customer|client)s?\b  # greets the customer
      | \b(?:contact|call|reach|visit)\ (?:our|the\ bank's)\ (?:customer\ (?:service|support)|support|team|branch)
      | \bour\ (?:customer\ (?:service|support)|support\ (?:team|chat|staff|cent(?:er|re))|team\ (?:is|will|has))\b
      | \b(?:please|you\ (?:can|should|may|might\ want\ to))\ (?:contact|call|reach\ out\ to|visit)
        \ (?:us|our|customer|support)\b
      | \byour\ (?:(?:debit\ |credit\ )?card|(?:bank\ )?account|statement|pin|transfer|refund|balance|password|payment
                 |loan|mortgage|overdraft|address|feedback\ has|request\ has)\b  # the bank speaking of the customer's things
      | \b(?:sorry|apologi[sz]e)\b[^.!?]{0,40}\byour\b | ^\W*sorry,?\ (?:but\ )?(?:our|we)\b | \bwe\ apologi[sz]e\b
      | ^\W*we(?:'re|\ are)\ (?:so\ |very\ )?(?:sorry|happy|pleased|working|here|unable|looking\ into)
      | \bwe\ (?:have|'ve)\ (?:received|processed|reviewed)\b | \bwe(?:'ll|\ will)\ (?:get\ back|look\ into|review|contact\ you)\b
      | \bthank\ you\ for\ your\ (?:interest|feedback|understanding|business)\b
      | \bbe\ (?:happy|glad|delighted)\ to\ (?:help|assist|provide)\b | \bi\ can\ help\ you\b
      | \b(?:trust|count\ on|rely\ on)\ (?:me|us)\ to\ (?:help|assist|look\ after|take\ care\ of)\ you\b
      | \b(?:can|may|could)\ i\ (?:help|assist)\ you\b | \b(?:i'm|i\ am)\ (?:ready|here)\ to\ (?:help|assist|provide)\b
      | \b(?:any|further|more)\ assistance\b | \bassist\ you\b | \bhelp\ you\b | \bthe\ user\b
      | \bsorry,?\ but\ i\ (?:can't|cannot|don't|do\ not|am\ not|'m\ not)\b | \byour\ (?:smart\ speaker|voice\ assistant)\b
      | \bdo\ you\ have\ any\ (?:other\ )?(?:questions|concerns)\b | \bwhat\ specific\ needs\b
      | \bdo\ you\ need\ (?:my\ |any\ |some\ )?(?:help|assistance)\b | \bif\ you\ have\ any\ (?:other\ |further\ |more\ )?questions\b
      | \bwould\ you\ like\ (?:it|us|to\ (?:block|replace|change|reset|open|close))\b
    """, re.X | re.I)

# At the very start of the sample (after a dialogue's "user:"): the model talking about its output.
_META_START = re.compile(
    r"""^\s*(?:user:\s*)?(?:
        (?:sure|certainly|of\ course|absolutely|okay|ok)\b[!,.]?\s*(?:here(?:'s|\ is|\ are)|below)
      | here(?:'s|\ is|\ are)\s+(?:a|an|the|one|some|my|your)\s+(?:[\w-]+\s+){0,3}
        (?:message|messages|example|examples|sample|samples|conversation|dialogue|version|rewrite)\b
      | (?:message|example|sample|output|response|generated\ text)\s*\d*\s*:
    )""", re.X | re.I)

# A line that echoes the executor prompt (see prompts/*.jinja) or labels its parts.
_ECHO_LINE = re.compile(
    r"""^\s*(?:its\ purpose|purpose|situation|scenario|style|length|language|persona|category|label|intent|passage
          |topic|question\ style|answer\ length|the\ user's\ goal|conversation\ goal|question|answer)\s*:""",
    re.X | re.I | re.M)
_ECHO_PHRASE = re.compile(
    r"write\ one\ message\ that|put\ only\ the\ message|messages\ other\ people\ wrote|write\ something\ different"
    r"|do\ not\ copy|without\ greetings\ to\ the\ reader|reply\ with\ one\ json\ object"
    r"|\bdo\ not\ (?:answer|describe|write|respond|perform)\b|\bthe\ one\ who\ replies\b|\bwrite\ only\ what\ you\b",
    re.X | re.I)


def placeholder(text: str, allowed: frozenset[str] = frozenset(TOKENS.values())) -> str | None:
    """An unfilled template slot; `allowed` are tokens we wrote ourselves (PII redaction)."""
    for m in _PLACEHOLDER.finditer(text):
        if m.group() not in allowed:
            return m.group()
    return None


def refusal(text: str) -> str | None:
    m = _REFUSAL.search(text)
    return m.group() if m else None


def assistant_voice(text: str) -> str | None:
    """A phrase only the other side of the conversation says ("I'm sorry to hear…", "happy to help")."""
    m = _ASSISTANT_VOICE.search(text)
    return m.group().strip() if m else None


def meta_talk(text: str) -> str | None:
    for pattern in (_META_START, _ECHO_LINE, _ECHO_PHRASE):
        m = pattern.search(text)
        if m:
            return m.group().strip()
    return None


WORD = re.compile(r"[^\W\d_]+")
MIN_KNOWN_WORDS = 0.25  # real messages full of brand, artist and place names stay above it (docs/benchmarks.md)


def words(text: str) -> list[str]:
    """The words of `text` in lower case: runs of letters."""
    return [w.lower() for w in WORD.findall(text)]


def gibberish(text: str, vocabulary: frozenset[str]) -> str | None:
    """Text of three or more words (two letters or more) of which fewer than a quarter are in `vocabulary`."""
    found = [w for w in words(text) if len(w) > 1]
    if len(found) < 3:
        return None
    unknown = [w for w in found if w not in vocabulary]
    if len(found) - len(unknown) >= MIN_KNOWN_WORDS * len(found):
        return None
    return " ".join(unknown[:4])


def label_pattern(label: str, mode: str) -> re.Pattern[str] | None:
    """How a leaked `label` looks in text, or None when `mode` does not check this label.

    identifier: the label verbatim, only for labels no person would write (lost_card, lost-card, lostCard);
    words: also the label's words with spaces ("lost card") and single-word labels.
    """
    if mode == "off":
        return None
    words = [w for w in re.split(r"[_\-\s]+|(?<=[a-z])(?=[A-Z])", label) if w]
    if mode == "identifier":
        if len(words) < 2:
            return None
        return re.compile(rf"(?<![A-Za-z0-9]){re.escape(label)}(?![A-Za-z0-9])", re.I)
    return re.compile(r"(?<![A-Za-z0-9])" + r"[\s_\-]*".join(map(re.escape, words)) + r"(?![A-Za-z0-9])", re.I)
