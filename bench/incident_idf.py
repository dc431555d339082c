"""Build ``storage/data/incident_idf.json``: the background document frequencies of the
incident suggestion's text features (``storage.incident_text``).

    python -m bench.incident_idf

The background corpus is ``bench/data/resident_messages.csv`` (the category suggester's set of
resident messages about everything a council hears), never the incident set the matcher is
measured on (``bench/data/incident_reports.jsonl``). Run again after changing how
``storage.incident_text`` turns words into features.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from storage import incident_text

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "bench" / "data" / "resident_messages.csv"
TARGET = ROOT / "storage" / "data" / "incident_idf.json"


def main() -> None:
    with SOURCE.open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    df: dict[str, int] = {}
    for text in texts:
        for feature in incident_text.counts(text):
            df[feature] = df.get(feature, 0) + 1
    # Features of one document say nothing a missing feature does not (the IDF of both is the
    # highest): left out, the file stays small.
    kept = {feature: count for feature, count in sorted(df.items()) if count > 1}
    payload = {"source": SOURCE.name, "documents": len(texts), "df": kept}
    TARGET.write_text(json.dumps(payload, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{len(texts)} documents, {len(kept)} features -> {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
