"""The recipe's `filters:` section: the cheap filters that run before the judge, one closed model per filter."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Toggle(_Closed):
    """A filter section that may also be written as a bare `true`/`false`."""

    @model_validator(mode="before")
    @classmethod
    def _from_bool(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value


class NearDuplicates(_Toggle):
    """MinHash LSH over character n-grams of the normalised text, against accepted samples and the batch."""

    enabled: bool = Field(default=True, description="Reject near duplicates.")
    threshold: float = Field(default=0.7, gt=0.0, le=1.0,
                             description="Estimated Jaccard similarity of the n-gram sets at or above which two texts are near duplicates.")
    num_perm: int = Field(default=128, ge=16, le=512, description="MinHash permutations: more is more exact and slower.")
    ngram: int = Field(default=5, ge=2, le=12, description="Character n-gram (shingle) size.")


class SeedCopies(_Toggle):
    """Samples that copy, or nearly copy, a seed example written by a person."""

    enabled: bool = Field(default=True, description="Reject copies and near copies of seed examples.")
    threshold: float = Field(default=0.6, gt=0.0, le=1.0,
                             description="Estimated Jaccard similarity to a seed at or above which a sample is a near copy.")


class LanguageCheck(_Toggle):
    """Language identification with lingua (offline; no model download)."""

    enabled: bool = Field(default=True, description="Reject samples not written in the recipe's `language`.")
    min_chars: int = Field(default=20, ge=1, description="Texts shorter than this are not checked (identification is unreliable).")
    min_confidence: float = Field(default=0.8, ge=0.0, le=1.0,
                                  description="Reject only when another language is identified with at least this confidence"
                                              " (slangy text in the right language scores low for every language).")
    accuracy: Literal["low", "high"] = Field(default="low", description="lingua's mode: low is ~10x faster, high is better on short texts.")


PIIKind = Literal["email", "phone", "card", "iban", "name"]


class PIICheck(_Closed):
    """Personal data: emails, phone numbers, card numbers (Luhn), IBANs (mod-97) and, opt-in, person names."""

    mode: Literal["off", "reject", "redact"] = Field(
        default="reject", description="reject the sample, or redact: replace each hit with [EMAIL], [PHONE], [CARD], [IBAN], [NAME].")
    kinds: list[PIIKind] = Field(default_factory=lambda: ["email", "phone", "card", "iban"],
                                 description="What to look for. 'name' (first + last name from Faker's name lists, or a title + name) is opt-in.")
    phone_region: str = Field(default="US", min_length=2, max_length=2,
                              description="Region (ISO 3166 alpha-2) for phone numbers written without a +country code.")

    @model_validator(mode="before")
    @classmethod
    def _from_bool(cls, value: Any) -> Any:
        return {"mode": "reject" if value else "off"} if isinstance(value, bool) else value


class LabelNoise(_Closed):
    """Classification only: a cross-validated classifier over the accepted set, run at the end of a run."""

    mode: Literal["off", "report", "reject"] = Field(
        default="report", description="report flags samples in the report; reject also rejects them (filter label_noise).")
    min_confidence: float = Field(default=0.7, gt=0.0, le=1.0,
                                  description="Flag a sample when the classifier gives another label at least this probability.")
    folds: int = Field(default=5, ge=2, le=20, description="Cross-validation folds.")
    embedder: Literal["auto", "minilm", "tfidf"] = Field(
        default="auto", description="Features: all-MiniLM-L6-v2 sentence embeddings (auto: when installed) or TF-IDF.")


class LabelFidelity(_Toggle):
    """Classification: embedding prototypes of the labels (name, description, seeds) and of the recipe's description.

    At the defaults it rejects only text about nothing the recipe names (`min_relevance`). Whether a sample reads as
    its own label rather than another is what a classifier must learn from real ambiguity: on real messages with their
    true labels that check rejects 25-58% (docs/benchmarks.md). With a weak teacher it pays nonetheless (keeping only
    the default teacher's samples nearest their own label raised SNIPS accuracy on real text by 9 points), so
    `reject_other_label: auto` turns the check on when the teacher check finds the teacher weak."""

    enabled: bool = Field(default=True, description="Reject samples about nothing the recipe names (and, with"
                                                    " reject_other_label, samples that read as another label).")
    min_relevance: float = Field(default=0.06, ge=-1.0, le=1.0,
                                 description="Cosine to the nearest of the recipe's description and every label must reach"
                                             " this: 'The weather in Paris is lovely' fails it in a banking recipe.")
    reject_other_label: bool | Literal["auto"] = Field(
        default="auto",
        description="Also reject a sample nearer another label than its own by `margin`, or less than `min_similarity`"
                    " near its own, and a contrastive request of the quality loop not `contrast_margin` apart from the"
                    " label it must not be taken for. auto: only once the teacher check finds the teacher weak (the"
                    " samples accepted before are checked then too); false: never (it rejects many real messages).")
    margin: float = Field(default=0.0, ge=-1.0, le=1.0,
                          description="reject_other_label: cosine to its own label minus cosine to the nearest other label"
                                      " must reach this.")
    min_similarity: float = Field(default=0.2, ge=-1.0, le=1.0,
                                  description="reject_other_label: cosine to its own label must reach this.")
    contrast_margin: float = Field(default=0.05, ge=-1.0, le=1.0,
                                   description="reject_other_label: a contrastive request of the quality loop (label A, not"
                                               " to be taken for B): cosine to A minus cosine to B must reach this.")

    def rejects_other_label(self, teacher_weak: bool) -> bool:
        """`reject_other_label` resolved: true, or auto with a teacher the teacher check found weak."""
        return self.reject_other_label is True or (self.reject_other_label == "auto" and teacher_weak)


class Grounding(_Toggle):
    """QA from documents: every answer is checked against its own passage, every question against the run's passages."""

    enabled: bool = Field(default=True, description="Check QA samples that carry a passage (filters grounding, answer_leak, answerable).")
    mode: Literal["abstractive", "extractive"] = Field(
        default="abstractive", description="abstractive: the answer's content words must be in one window of the passage;"
                                           " extractive: the answer must be a span of the passage (an answer close to one"
                                           " is snapped to it; decoding is not constrained to the span).")
    min_support: float = Field(default=0.5, ge=0.0, le=1.0,
                               description="abstractive: share of the answer's content words found in the passage's best window;"
                                           " extractive: token F1 of the answer to the best span.")
    answerable: bool = Field(default=True, description="Reject a question that does not retrieve its own passage (MiniLM) or"
                                                       " refers to 'the passage'.")
    answerable_top_k: int = Field(default=1, ge=1, le=100,
                                  description="The question's own passage must rank among this many of all the run's passages.")
    answerable_lexical: bool = Field(default=True,
                                     description="Also count a question as answerable when TF-IDF ranks its passage within"
                                                 " answerable_top_k: a question that uses its passage's own terms is kept even"
                                                 " where MiniLM places it elsewhere.")
    leak: bool = Field(default=True, description="Reject a question that contains its answer or states one ('The answer is: …').")


class DialogueCheck(_Toggle):
    """Dialogue: roles kept, on its goal, within the turn bounds, no meta or placeholder turns."""

    enabled: bool = Field(default=True, description="Check dialogues (filters dialogue_turns, dialogue_meta, dialogue_role, off_goal).")
    min_turn_chars: int = Field(default=2, ge=1, description="A message shorter than this is an empty turn.")
    goal_margin: float = Field(default=0.0, ge=-1.0, le=1.0,
                               description="Cosine of the user's messages to their own goal minus cosine to the nearest other goal"
                                           " must reach this (MiniLM).")
    goal_min_similarity: float = Field(default=0.25, ge=-1.0, le=1.0,
                                       description="Cosine of the user's messages to their own goal must reach this.")


class FilterConfig(_Closed):
    """Cheap filters run before the judge, in this order: length, placeholders, refusals, label_leak,
    role, gibberish, language, label_fidelity, pii, seed_copies, exact_duplicates, near_duplicates; QA from documents adds
    answer_leak, grounding and answerable (section `grounding`), dialogue adds dialogue_turns, dialogue_meta, dialogue_role
    and off_goal (section `dialogue`). Each rejection names its filter and says why."""

    min_chars: int = Field(default=8, ge=0, description="Reject samples shorter than this.")
    max_chars: int = Field(default=2000, ge=1, description="Reject samples longer than this.")
    exact_duplicates: bool = Field(default=True, description="Reject a sample whose normalised text was already accepted.")
    near_duplicates: NearDuplicates = Field(default_factory=NearDuplicates)
    seed_copies: SeedCopies = Field(default_factory=SeedCopies)
    language: LanguageCheck = Field(default_factory=LanguageCheck)
    pii: PIICheck = Field(default_factory=PIICheck)
    gibberish: bool = Field(default=True, description="Classification: reject text of three or more words of which fewer"
                                                      " than a quarter are words of the embedder's vocabulary ('xq zzt vbb"
                                                      " qwrr plk'); needs the MiniLM embedder.")
    placeholders: bool = Field(default=True, description='Reject unfilled template text: "[Customer Name]", "{name}", "<NAME>", "XXX".')
    refusals: bool = Field(default=True, description='Reject refusals and meta-talk ("As an AI…", "Here is a message:", prompt echoes).')
    role: bool = Field(default=True, description="Classification: reject text in the assistant's voice (\"I'm sorry to hear…\","
                                                 " \"happy to help\") or a narrator's (\"The customer wants…\"), which the person"
                                                 " whose message it should be never writes.")
    label_fidelity: LabelFidelity = Field(default_factory=LabelFidelity)
    label_leak: Literal["off", "identifier", "words"] = Field(
        default="identifier",
        description="Classification: reject a text containing its label; identifier matches lost_card verbatim (labels with _ or -),"
                    " words also matches 'lost card' and single-word labels.")
    label_noise: LabelNoise = Field(default_factory=LabelNoise)
    grounding: Grounding = Field(default_factory=Grounding)
    dialogue: DialogueCheck = Field(default_factory=DialogueCheck)

    @model_validator(mode="after")
    def _bounds(self) -> "FilterConfig":
        if self.min_chars > self.max_chars:
            raise ValueError("min_chars must not exceed max_chars")
        return self
