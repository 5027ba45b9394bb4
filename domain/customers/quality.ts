/**
 * Match quality as pairwise precision, recall and F1 over source keys placed in the same profile,
 * against a ground truth that maps each source key to a real person. Counted with pair
 * combinatorics per (profile, person) cell, so it is linear in the number of keys.
 */
export interface Quality {
  keys: number;
  truePairs: number;
  predictedPairs: number;
  correctPairs: number;
  precision: number;
  recall: number;
  f1: number;
}

const pairs = (n: number) => (n * (n - 1)) / 2;

/** `predicted` and `truth` map a source key to its profile and its person; keys missing from either are left out. */
export function pairwiseQuality(predicted: ReadonlyMap<string, string>, truth: ReadonlyMap<string, string>): Quality {
  const byProfile = new Map<string, number>();
  const byPerson = new Map<string, number>();
  const byCell = new Map<string, number>();
  let keys = 0;
  for (const [key, person] of truth) {
    const profile = predicted.get(key);
    if (profile === undefined) continue;
    keys++;
    byProfile.set(profile, (byProfile.get(profile) ?? 0) + 1);
    byPerson.set(person, (byPerson.get(person) ?? 0) + 1);
    const cell = `${profile}\u0000${person}`;
    byCell.set(cell, (byCell.get(cell) ?? 0) + 1);
  }
  let predictedPairs = 0;
  let truePairs = 0;
  let correctPairs = 0;
  for (const n of byProfile.values()) predictedPairs += pairs(n);
  for (const n of byPerson.values()) truePairs += pairs(n);
  for (const n of byCell.values()) correctPairs += pairs(n);
  const precision = predictedPairs ? correctPairs / predictedPairs : 1;
  const recall = truePairs ? correctPairs / truePairs : 1;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { keys, truePairs, predictedPairs, correctPairs, precision, recall, f1 };
}
