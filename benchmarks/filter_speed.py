"""Every filter over 10k and 100k synthetic texts, in batches of 64 as a run feeds them.

Texts are varied customer messages built from phrase pools, with injected exact duplicates (2%),
near duplicates (3%: one word changed or added), PII (2%), placeholders, refusals and German
texts (1% each). Accepted samples are added to the run's near-duplicate index as a run would, so
the index grows to the full size. Prints seconds per filter and the near-duplicate ratio
100k/10k (linear would be 10).

    PYTHONPATH=. python benchmarks/filter_speed.py [--sizes 10000 100000] [--batch 64]
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from collections import Counter

from synthwright.evaluators.filters import (
    Candidate,
    FilterState,
    apply_filters,
    filter_names,
)
from synthwright.recipe.filter_config import FilterConfig

OPENERS = ["Hi,", "Hello,", "Hey there,", "Good morning,", "Excuse me,", "Quick question:", "Ugh,", "Please help,", "",
           "Dear support,", "So", "Honestly,", "Um,", "Right,", "Listen,"]
SUBJECTS = ["my card", "my debit card", "the credit card", "my new card", "my partner's card", "the business card",
            "my savings account", "the joint account", "my mortgage payment", "the transfer", "my salary payment",
            "the refund", "my overdraft", "the direct debit", "my loan application", "the app", "my PIN", "the ATM",
            "my statement", "the exchange rate", "my contactless limit", "the standing order", "my online banking"]
PROBLEMS = ["was declined", "has not arrived", "stopped working", "got blocked", "is missing", "was charged twice",
            "shows the wrong amount", "keeps failing", "was swallowed", "needs to be cancelled", "has to be changed",
            "disappeared", "is pending", "looks wrong", "was rejected", "is frozen", "went through twice"]
PLACES = ["at the supermarket", "at a petrol station", "online", "abroad", "at the airport", "in the app", "at the ATM",
          "on my phone", "at a restaurant", "in a shop in town", "on a train", "at the pharmacy", "while travelling"]
TIMES = ["yesterday", "this morning", "last night", "two days ago", "on Monday", "last week", "an hour ago", "again today",
         "three times this month", "since Friday", "just now", "over the weekend"]
ASKS = ["What should I do?", "Can you fix it?", "Why is this happening?", "Please sort it out.", "How long will it take?",
        "Is there a fee?", "Can someone call me back?", "I need this resolved today.", "What are my options?",
        "Could you check my account?", "Do I need a new one?", "Is my money safe?", "Who do I talk to?"]
EXTRAS = ["I have been a customer for {n} years.", "The amount was {n} pounds.", "It is the {n}th time this happens.",
          "My reference ends in {n}.", "I tried {n} times already.", "", "", ""]
SWAPS = {"yesterday": "today", "declined": "refused", "card": "cards", "help": "assist", "the": "this"}
GERMAN = ["Meine Karte wurde gestern am Automaten eingezogen, was soll ich jetzt tun?",
          "Die Überweisung ist seit drei Tagen nicht angekommen, bitte prüfen Sie das.",
          "Ich möchte mein Girokonto kündigen und das Guthaben überweisen lassen."]


def message(rng: random.Random) -> str:
    parts = [rng.choice(OPENERS), rng.choice(SUBJECTS), rng.choice(PROBLEMS), rng.choice(PLACES), rng.choice(TIMES) + ".",
             rng.choice(EXTRAS).format(n=rng.randint(2, 9999)), rng.choice(ASKS)]
    return " ".join(p for p in parts if p)


def near_copy(text: str, rng: random.Random) -> str:
    words = text.split()
    for i, w in enumerate(words):
        if w in SWAPS and rng.random() < 0.5:
            words[i] = SWAPS[w]
            return " ".join(words)
    return text + " Thanks."


def corpus(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(n):
        r = rng.random()
        if texts and r < 0.02:
            texts.append(rng.choice(texts))
        elif texts and r < 0.05:
            texts.append(near_copy(rng.choice(texts), rng))
        elif r < 0.07:
            pii = rng.choice([f"email me at user{rng.randint(1, 10**6)}@example.com",
                              f"call me on +44 20 7946 {rng.randint(1000, 9999)}",
                              "my card number is 4111 1111 1111 1111", "the IBAN is GB82 WEST 1234 5698 7654 32",
                              "ask Mary Johnson in your branch"])
            texts.append(f"{message(rng)} {pii}")
        elif r < 0.08:
            texts.append(f"Hi, this is [Customer Name]. {message(rng)}")
        elif r < 0.09:
            texts.append(f"As an AI language model, I cannot write this. {message(rng)}")
        elif r < 0.10:
            texts.append(rng.choice(GERMAN) + f" Referenz {rng.randint(1, 10**6)}.")
        else:
            texts.append(message(rng))
    return texts


def run(n: int, batch: int, config: FilterConfig) -> tuple[dict[str, float], Counter, float]:
    texts = corpus(n, seed=n)
    state = FilterState(seed_texts=["I lost my card yesterday, please block it."],
                        seed_keys={"i lost my card yesterday please block it"}, task="classification", language="en")
    timings: dict[str, float] = {}
    fates: Counter = Counter()
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        cands = [Candidate(data={"text": t, "label": "card_problem"}, text=t, category="card_problem", slot_id="s")
                 for t in texts[start:start + batch]]
        apply_filters(cands, state, config, timings=timings)
        for c in cands:
            fates[c.filter or "accepted"] += 1
            if c.alive:
                state.accept(c)
    return timings, fates, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    config = FilterConfig(pii={"mode": "reject", "kinds": ["email", "phone", "card", "iban", "name"]})
    # warm-up outside the timings: lingua's models and Faker's name lists load once per process
    run(200, args.batch, config)
    results = {}
    for n in args.sizes:
        timings, fates, total = run(n, args.batch, config)
        results[n] = timings
        print(f"\n{n:,} texts in batches of {args.batch}: {total:.1f} s total, {n / total:,.0f} texts/s")
        print(f"{'filter':<16}{'seconds':>9}{'µs/text':>9}{'rejected':>10}")
        for name in filter_names():
            secs = timings.get(name, 0.0)
            print(f"{name:<16}{secs:>9.2f}{secs / n * 1e6:>9.0f}{fates.get(name, 0):>10}")
        print(f"{'accepted':<16}{'':>9}{'':>9}{fates['accepted']:>10}")
    if len(args.sizes) >= 2:
        small, large = args.sizes[0], args.sizes[-1]
        ratio = results[large]["near_duplicate"] / results[small]["near_duplicate"]
        print(f"\nnear_duplicate time ratio {large:,}/{small:,}: {ratio:.1f} (size ratio {large / small:.0f}; target <= 15)")
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
