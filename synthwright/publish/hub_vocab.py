"""The Hub's vocabularies for a dataset card's front matter (licences, size categories, languages), and the offline
check of a card against them."""

from __future__ import annotations

import json
from pathlib import Path

from synthwright.tasks import TASKS

# https://huggingface.co/docs/hub/repositories-licenses (the identifiers a card may use)
HUB_LICENSES = frozenset("""
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0 bigcode-openrail-m
afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5
cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0
cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0
cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl
lgpl-2.1 lgpl-3.0 isc lppl-1.3c ms-pl mpl-2.0 odc-by odbl openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib
pddl lgpl-lr deepfloyd-if-license llama2 gemma unknown other
""".split())
UNSPECIFIED_LICENSE = "other"
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]

def size_category(n: int) -> str:
    return next((name for limit, name in SIZE_CATEGORIES if n < limit), "n>1B")


def license_fields(license_id: str | None) -> dict[str, str]:
    """Front-matter license keys; `other` (the default) carries a name and a link to the LICENSE note."""
    license_id = license_id or UNSPECIFIED_LICENSE
    if license_id == "other":
        return {"license": "other", "license_name": "unspecified", "license_link": "LICENSE"}
    return {"license": license_id}


def check_card(text: str) -> list[str]:
    """Problems with a card's front matter against the Hub's conventions; an empty list means it is fine.

    Parsed with huggingface_hub's DatasetCard; configs and dataset_info with datasets' own readers (the ones
    `load_dataset` uses); license, language, size and task values against the Hub's vocabularies.
    """
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    problems: list[str] = []
    try:
        card = DatasetCard(text)
    except Exception as exc:  # the card tools raise ValueError for bad YAML, others for odd content
        return [f"the front matter does not parse: {exc}"]
    data = card.data
    licenses = data.license if isinstance(data.license, list) else [data.license]
    for lic in licenses:
        if lic not in HUB_LICENSES:
            problems.append(f"license '{lic}' is not a Hub license id")
    if "other" in licenses and not data.get("license_name"):
        problems.append("license 'other' needs a license_name")
    languages = _hub_languages()
    for lang in data.language or []:
        if languages and lang not in languages:
            problems.append(f"language '{lang}' is not a known ISO 639 code")
    if not data.language:
        problems.append("language is missing")
    sizes = {name for _, name in SIZE_CATEGORIES} | {"n>1B", "unknown"}
    for size in data.size_categories or ["(missing)"]:
        if size not in sizes:
            problems.append(f"size category '{size}' is not one of {sorted(sizes)}")
    known_tasks = {t for task in TASKS.values() for t in task.hub_task_categories} | {"other"}
    for task in data.task_categories or ["(missing)"]:
        if task not in known_tasks:
            problems.append(f"task category '{task}' is not one this tool writes")
    for tag in ("synthetic", "synthwright"):
        if tag not in (data.tags or []):
            problems.append(f"tag '{tag}' is missing")
    try:
        configs = MetadataConfigs.from_dataset_card_data(data)
        if "default" not in configs:
            problems.append("there is no 'default' config")
        for name, config in configs.items():
            MetadataConfigs._raise_if_data_files_field_not_valid(config)
    except Exception as exc:
        problems.append(f"configs are invalid: {exc}")
    try:
        infos = DatasetInfosDict.from_dataset_card_data(data)
        if not infos:
            problems.append("dataset_info is missing")
    except Exception as exc:
        problems.append(f"dataset_info is invalid: {exc}")
    return problems


def _hub_languages() -> set[str]:
    """ISO 639 codes as shipped by `datasets` (the list its card validator used); empty if it is not there."""
    try:
        import datasets

        path = Path(datasets.__file__).parent / "utils" / "resources" / "languages.json"
        return set(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return set()
