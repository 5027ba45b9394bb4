/**
 * Merge (SPEC "Merge"): one profile from the records of one customer, each attribute taken by
 * source priority (the most complete or accurate source first; default eCommerce over loyalty)
 * or, where configured, from the most recent record. Empty values never win. Every source key
 * stays on the profile; loyalty points add up over the person's loyalty records.
 */
import crypto from 'node:crypto';
import type { RulesConfig } from './rules';

export const PROFILE_ATTRIBUTES = [
  'firstName', 'lastName', 'fullName', 'email', 'phone', 'dateOfBirth', 'gender', 'postalCode', 'street', 'city', 'state', 'country',
] as const;
export type ProfileAttribute = (typeof PROFILE_ATTRIBUTES)[number];

export interface MemberRecord {
  recordId: number;
  source: string;
  sourceKey: string;
  values: Partial<Record<ProfileAttribute, string | null>>;
  rewardPoints: number | null;
  /** The source's own creation date of the record (CreatedOn), `YYYY-MM-DD`. */
  createdOn: string | null;
  /** When our copy last changed (ISO), the tie-breaker for "most recent". */
  updatedAt: string;
}

export interface Profile {
  values: Record<ProfileAttribute, string | null>;
  rewardPoints: number | null;
  sourceKeys: Record<string, string[]>;
  emails: string[];
  recordCount: number;
  hash: string;
}

type MergeConfig = RulesConfig['merge'];

function rank(priority: readonly string[], source: string): number {
  const i = priority.indexOf(source);
  return i === -1 ? priority.length : i;
}

const recency = (m: MemberRecord) => `${m.createdOn ?? '0000-00-00'}|${m.updatedAt}`;

export function mergeProfile(members: readonly MemberRecord[], merge: MergeConfig): Profile {
  const values = {} as Record<ProfileAttribute, string | null>;
  for (const attribute of PROFILE_ATTRIBUTES) {
    const override = merge.attributes[attribute];
    const strategy = override?.strategy ?? merge.strategy;
    const priority = override?.sourcePriority ?? merge.sourcePriority;
    let chosen: MemberRecord | null = null;
    for (const m of members) {
      const value = m.values[attribute];
      if (value === null || value === undefined || value === '') continue;
      if (!chosen) {
        chosen = m;
        continue;
      }
      const byPriority = rank(priority, m.source) - rank(priority, chosen.source) || m.source.localeCompare(chosen.source);
      const byRecency = recency(chosen).localeCompare(recency(m));
      const order = strategy === 'priority' ? byPriority || byRecency : byRecency || byPriority;
      if (order < 0 || (order === 0 && m.sourceKey < chosen.sourceKey)) chosen = m;
    }
    values[attribute] = chosen ? chosen.values[attribute]! : null;
  }
  // A clean full name from the chosen parts; the sources' FullName is kept only when they are missing.
  if (values.firstName && values.lastName) values.fullName = `${values.firstName} ${values.lastName}`;

  const sourceKeys: Record<string, string[]> = {};
  const emails = new Set<string>();
  let points: number | null = null;
  for (const m of members) {
    (sourceKeys[m.source] ??= []).push(m.sourceKey);
    const email = m.values.email?.trim().toLowerCase();
    if (email) emails.add(email);
    if (m.rewardPoints !== null) points = (points ?? 0) + m.rewardPoints;
  }
  for (const keys of Object.values(sourceKeys)) keys.sort();
  const sorted = Object.fromEntries(Object.entries(sourceKeys).sort(([a], [b]) => a.localeCompare(b)));
  const emailList = [...emails].sort();
  const hash = crypto.createHash('md5').update(JSON.stringify([values, points, sorted, emailList])).digest('base64');
  return { values, rewardPoints: points, sourceKeys: sorted, emails: emailList, recordCount: members.length, hash };
}
