/**
 * The customer-unification contract: everything the workflow, the activities, the API, the CLIs
 * and the Schedule must agree on. Nothing here does I/O. Message name strings never change once
 * shipped.
 *
 * One workflow id, `customer-unification`, runs at most one pass at a time. A request (from an
 * import, the API, the CLI or the nightly Schedule) is a signal carrying a request id; requests
 * that arrive during a pass are served by the next pass, so no import is ever left out and
 * concurrent requests coalesce. Callers follow their request through the state query.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

export const CUSTOMER_UNIFICATION_WORKFLOW_ID = 'customer-unification';
/** The Schedule's id, and the id prefix of what it starts (Temporal appends the time). */
export const CUSTOMER_UNIFICATION_SCHEDULE_ID = 'customer-unification-nightly';
export const SCHEDULED_UNIFICATION_WORKFLOW_ID = 'customer-unification-scheduled';

/** Map (normalise for matching), match (rules → links), cluster (groups → CustomerIds), merge (profiles, published at once). */
export const UNIFICATION_PHASES = ['map', 'match', 'cluster', 'merge'] as const;
export type UnificationPhase = (typeof UNIFICATION_PHASES)[number];

export type UnificationTrigger = 'import' | 'api' | 'cli' | 'schedule';

export interface UnificationRequest {
  /** Unique per request; a repeated signal with the same id is ignored. */
  requestId: string;
  trigger: UnificationTrigger;
  /** A user id, or the name of the process. */
  by: string;
  importId?: string | null;
  /** Match every record again, even when an incremental pass or the published result would do. */
  full?: boolean;
}

export interface UnificationInput {
  requests: UnificationRequest[];
}

export type PhaseStats = Record<string, number | string | null>;

export interface PhaseView {
  phase: UnificationPhase;
  startedAt: string;
  finishedAt: string | null;
  stats: PhaseStats | null;
}

export type PassStatus = 'running' | 'completed' | 'failed';

export interface PassView {
  pass: number;
  passId: string | null;
  requestIds: string[];
  status: PassStatus;
  phase: UnificationPhase | null;
  phases: PhaseView[];
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  summary: UnificationSummary | null;
  /**
   * When nothing changed since a completed pass (records, rules, normalised keys), this pass
   * reused that pass's result instead of matching again: its id. Absent on passes that matched.
   */
  reusedFrom?: string | null;
  /** How the pass ran after its map (absent on passes of older runs, which were all full). */
  mode?: PassMode;
}

export interface UnificationSummary {
  records: number;
  links: number;
  customers: number;
  created: number;
  kept: number;
  joined: number;
  split: number;
  profilesChanged: number;
  profilesRemoved: number;
}

export type RequestStatus = 'pending' | 'running' | 'completed' | 'failed';

export interface UnificationState {
  status: 'running' | 'completed';
  /** The latest passes of this run, oldest first (at most MAX_PASSES_KEPT). */
  passes: PassView[];
  /** Request id → the pass that serves it (null while it waits for the next pass). */
  requests: Record<string, { pass: number | null; status: RequestStatus }>;
}

export const MAX_PASSES_KEPT = 20;
export const MAX_REQUESTS_KEPT = 200;
/** Past this many passes (or when Temporal suggests it) a run continues as new with the requests still waiting. */
export const MAX_PASSES_PER_RUN = 100;

export const requestUnificationSignal = defineSignal<[UnificationRequest]>('requestUnification');
export const getUnificationStateQuery = defineQuery<UnificationState>('getUnificationState');

/** Failure types of the phases; the API maps them (422: the rules file is wrong). */
export const UNIFICATION_FAILURES = {
  invalidRules: 'invalid_match_rules',
  passNotFound: 'unification_pass_not_found',
} as const;

// ---------------------------------------------------------------------------------------------
// Activity inputs and results.

export interface BeginPassInput {
  workflowId: string;
  workflowRunId: string;
  pass: number;
  requestIds: string[];
  /** A request of the pass asked for a full pass. */
  full?: boolean;
}

export interface PassRef {
  passId: string;
}

export interface PhaseResult {
  stats: PhaseStats;
}

export interface FinishPassInput {
  passId: string;
  status: 'completed' | 'failed';
  error?: string | null;
  summary?: UnificationSummary | null;
  /** The pass whose published result this one reused (it matched nothing itself). */
  reusedFrom?: string | null;
}

/**
 * After the map phase: how the pass goes on, and why. `reuse`: nothing changed since the
 * published pass, whose result stands; `incremental`: only the records a change can reach are
 * matched, clustered and merged again; `full`: every record.
 */
export type PassMode = 'reuse' | 'incremental' | 'full';

export interface PassPlan {
  reuse: { fromPassId: string; summary: UnificationSummary } | null;
  mode?: PassMode;
  reason: string;
}

/** The workflow change that plans a pass after its map (passes of older runs go on without). */
export const REUSE_PATCH = 'customer-unification-reuse-unchanged';

export interface ScheduledUnificationResult {
  requestId: string;
  via: 'started' | 'signaled';
}

/** One deterministic rule (its step) over one shard of the records, of `shards`. */
export interface MatchShardRef {
  passId: string;
  step: number;
  shard: number;
  shards: number;
}

/**
 * How a full pass's match runs: one activity per rule and shard (`shards`, concurrently, on any
 * worker), or — `shards` empty — the one-activity match, `reason` saying why.
 */
export interface MatchShardPlan {
  shards: Array<{ step: number; shard: number; rule: string }>;
  shardCount: number;
  /** Person records with keys: what the match reads. */
  records: number;
  reason: string;
}

/** The workflow change that may shard a full pass's match (passes begun before it match in one activity). */
export const SHARDED_MATCH_PATCH = 'unification-sharded-match';
