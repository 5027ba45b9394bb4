"""Splink on FEBRL 3 (deduplication) and FEBRL 4 (linkage), for the side-by-side figures of
`npm run bench:customers:quality` (bench/customers/splink.ts runs it in a venv of its own).

Usage: python splink_febrl.py FEBRL_DIR  ->  one JSON object on the last line of stdout.

The same files and the same columns as our probabilistic rules, without soc_sec_id: Splink's own
comparison library (names with term frequencies, dates of birth and postcodes by edit distance,
addresses by Jaro-Winkler), u by random sampling, m by EM over four blocking rules, the same
prediction blocking rules as docs/examples/febrl/matching-probabilistic.json, the probability two
random records match from Splink's deterministic-rules estimate (recall 0.8, as Splink's examples
do), then connected components at match probability 0.5. Graded like ours: pairwise precision,
recall and F1 over records placed in one cluster, truth from the record ids.
"""
import csv
import json
import os
import re
import sys
import time

import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

COLUMNS = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state", "date_of_birth"]


def load(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, skipinitialspace=True)
        header = [h.strip() for h in next(reader)]
        rows = []
        for fields in reader:
            if not fields:
                continue
            record = dict(zip(header, (v.strip() or None for v in fields)))
            rows.append({"unique_id": record["rec_id"], **{c: record.get(c) for c in COLUMNS}})
    return rows


def person(rec_id):
    return re.match(r"^rec-(\d+)-", rec_id).group(1)


def pairs(n):
    return n * (n - 1) // 2


def quality(clusters, truth):
    by_cluster, by_person, by_cell = {}, {}, {}
    for key, person_id in truth.items():
        cluster = clusters.get(key, "alone:" + key)
        by_cluster[cluster] = by_cluster.get(cluster, 0) + 1
        by_person[person_id] = by_person.get(person_id, 0) + 1
        by_cell[(cluster, person_id)] = by_cell.get((cluster, person_id), 0) + 1
    predicted = sum(pairs(n) for n in by_cluster.values())
    true = sum(pairs(n) for n in by_person.values())
    correct = sum(pairs(n) for n in by_cell.values())
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"keys": len(truth), "truePairs": true, "predictedPairs": predicted, "correctPairs": correct, "precision": precision, "recall": recall, "f1": f1}


def settings(link_type):
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]),
            cl.JaroWinklerAtThresholds("address_1", [0.92, 0.8]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_2", [0.92, 0.8]).configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("suburb", [0.92, 0.8]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("state").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("date_of_birth"),
            block_on("postcode"),
            block_on("surname"),
            block_on("given_name"),
            block_on("address_1"),
            block_on("suburb"),
            block_on("street_number", "state"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def run(tables, link_type):
    started = time.time()
    db_api = DuckDBAPI()
    frames = [db_api.register(rows, dataset_display_name=name) for name, rows in tables]
    linker = Linker(frames if len(frames) > 1 else frames[0], settings(link_type), log_level=None)
    linker.training.estimate_probability_two_random_records_match([block_on("given_name", "surname", "date_of_birth")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
    for rule in (block_on("date_of_birth"), block_on("postcode"), block_on("surname"), block_on("given_name")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold_match_probability=0.5)
    records = clusters.as_record_list()
    assigned = {r["unique_id"]: str(r["cluster_id"]) for r in records}
    truth = {row["unique_id"]: person(row["unique_id"]) for _, rows in tables for row in rows}
    result = quality(assigned, truth)
    result["seconds"] = round(time.time() - started, 1)
    return result


def main():
    folder = sys.argv[1]
    import splink

    out = {"splink": splink.__version__}
    out["febrl3"] = run([("dataset3", load(os.path.join(folder, "dataset3.csv")))], "dedupe_only")
    out["febrl4"] = run([("dataset4a", load(os.path.join(folder, "dataset4a.csv"))), ("dataset4b", load(os.path.join(folder, "dataset4b.csv")))], "link_only")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
