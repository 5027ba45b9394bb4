/**
 * Customer unification (SPEC "One view of the customer"): map, match, cluster and merge every
 * person record into one profile per real customer, one activity per phase. Runs under the one
 * workflow id `customer-unification`; each request (signal) is served by the pass that starts
 * after it arrives, passes run one after another, and the run ends when no request waits.
 * Deterministic: time comes from the workflow clock, all I/O from activities.
 */
import {
  ApplicationFailure,
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
  ParentClosePolicy,
  type ActivityOptions,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { CustomerUnificationActivities } from '../activities/customerUnification';
import { iso } from './lib/entity';
import {
  CUSTOMER_UNIFICATION_WORKFLOW_ID,
  MAX_PASSES_KEPT,
  MAX_PASSES_PER_RUN,
  MAX_REQUESTS_KEPT,
  REUSE_PATCH,
  SHARDED_MATCH_PATCH,
  UNIFICATION_PHASES,
  getUnificationStateQuery,
  requestUnificationSignal,
  type PassView,
  type PhaseStats,
  type ScheduledUnificationResult,
  type UnificationInput,
  type UnificationPhase,
  type UnificationRequest,
  type UnificationState,
  type UnificationSummary,
  type MatchShardPlan,
  type PhaseResult,
} from './customerUnification.contract';

/**
 * A phase may take long on a large data set; its heartbeats prove it alive, so a dead worker is
 * noticed after HEARTBEAT and the phase resumes elsewhere from its last checkpoint. Transient
 * faults retry without end; a broken rules file is a business fact and fails the pass.
 */
const PHASE_ACTIVITY: ActivityOptions = {
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['invalid_match_rules', 'unification_pass_not_found'] },
};
const BOOKKEEPING_ACTIVITY: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['invalid_match_rules'] },
};

/** Planning a pass reads every record's keys once (the scope of an incremental pass): longer than bookkeeping. */
const PLANNING_ACTIVITY: ActivityOptions = { ...BOOKKEEPING_ACTIVITY, startToCloseTimeout: '1 hour' };

/**
 * A match shard: as a phase, but never dispatched eagerly to the worker that scheduled it (eager
 * dispatch would hand the whole fan-out to that one worker).
 */
const SHARD_ACTIVITY: ActivityOptions = { ...PHASE_ACTIVITY, allowEagerDispatch: false };

const phases = proxyActivities<CustomerUnificationActivities>(PHASE_ACTIVITY);
const bookkeeping = proxyActivities<CustomerUnificationActivities>(BOOKKEEPING_ACTIVITY);
const planning = proxyActivities<CustomerUnificationActivities>(PLANNING_ACTIVITY);

const PHASE_ACTIVITIES = {
  map: phases.mapCustomerRecords,
  match: phases.matchCustomerRecords,
  cluster: phases.clusterCustomerRecords,
  merge: phases.mergeCustomerProfiles,
} satisfies Record<UnificationPhase, unknown>;

const PHASE_SUMMARIES: Record<UnificationPhase, string> = {
  map: 'Map: normalise changed records for matching',
  match: 'Match: apply the rules in order (blocking)',
  cluster: 'Cluster: group linked records, keep CustomerIds stable',
  merge: 'Merge: build the profiles and publish them',
};

const num = (stats: PhaseStats | null | undefined, key: string) => Number(stats?.[key] ?? 0);

function failureMessage(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return (cause as Error)?.message ?? String(cause);
}

class CustomerUnification {
  private readonly state: UnificationState = { status: 'running', passes: [], requests: {} };
  private readonly pending: UnificationRequest[] = [];
  private passCount = 0;

  constructor(input: UnificationInput) {
    for (const request of input.requests) this.accept(request);
  }

  setup(): void {
    setHandler(getUnificationStateQuery, () => this.state);
    setHandler(requestUnificationSignal, (request) => this.accept(request));
  }

  async run(): Promise<UnificationState> {
    while (this.pending.length > 0) {
      if (this.passCount >= MAX_PASSES_PER_RUN || workflowInfo().continueAsNewSuggested) {
        // A long-lived run hands what waits to a fresh run (callers follow the workflow id).
        this.state.status = 'completed';
        await condition(allHandlersFinished);
        return continueAsNew<typeof customerUnificationWorkflow>({ requests: this.pending.splice(0) });
      }
      await this.runPass(this.pending.splice(0));
    }
    this.state.status = 'completed';
    await condition(allHandlersFinished);
    return this.state;
  }

  private accept(request: UnificationRequest): void {
    if (!request?.requestId || this.state.requests[request.requestId]) return;
    this.state.requests[request.requestId] = { pass: null, status: 'pending' };
    this.pending.push(request);
    const ids = Object.keys(this.state.requests);
    for (const id of ids.slice(0, Math.max(0, ids.length - MAX_REQUESTS_KEPT))) {
      if (this.state.requests[id].status !== 'pending') delete this.state.requests[id];
    }
  }

  private async runPass(requests: UnificationRequest[]): Promise<void> {
    const pass = ++this.passCount;
    const view: PassView = {
      pass, passId: null, requestIds: requests.map((r) => r.requestId), status: 'running', phase: null, phases: [],
      startedAt: iso(Date.now()), finishedAt: null, error: null, summary: null,
    };
    this.state.passes.push(view);
    if (this.state.passes.length > MAX_PASSES_KEPT) this.state.passes.shift();
    this.markRequests(view, 'running');

    const { workflowId, runId } = workflowInfo();
    try {
      const full = requests.some((r) => r.full === true);
      const { passId } = await bookkeeping.beginUnificationPass({ workflowId, workflowRunId: runId, pass, requestIds: view.requestIds, ...(full ? { full } : {}) });
      view.passId = passId;
      for (const phase of UNIFICATION_PHASES) {
        view.phase = phase;
        const phaseView = { phase, startedAt: iso(Date.now()), finishedAt: null as string | null, stats: null as PhaseStats | null };
        view.phases.push(phaseView);
        const runPhase = () => PHASE_ACTIVITIES[phase].executeWithOptions({ ...PHASE_ACTIVITY, summary: `Pass ${pass}. ${PHASE_SUMMARIES[phase]}` }, [{ passId }]);
        // A full pass may spread its match over shards any worker takes (passes begun before this
        // code, and incremental ones, match in one activity).
        const { stats } = phase === 'match' && view.mode === 'full' && patched(SHARDED_MATCH_PATCH) ? await this.match(pass, passId, runPhase) : await runPhase();
        phaseView.stats = stats;
        phaseView.finishedAt = iso(Date.now());
        // Same records, same rules as the published pass: its result stands, nothing is matched again.
        if (phase === 'map' && patched(REUSE_PATCH)) {
          const plan = await planning.planUnificationPass({ passId });
          if (plan.mode) view.mode = plan.mode;
          if (plan.reuse) {
            view.reusedFrom = plan.reuse.fromPassId;
            view.summary = plan.reuse.summary;
            break;
          }
        }
      }
      if (!view.reusedFrom) view.summary = this.summarise(view);
      view.status = 'completed';
      await bookkeeping.finishUnificationPass({ passId, status: 'completed', summary: view.summary, ...(view.reusedFrom ? { reusedFrom: view.reusedFrom } : {}) });
    } catch (error) {
      view.status = 'failed';
      view.error = failureMessage(error);
      if (view.passId) {
        try {
          await bookkeeping.finishUnificationPass({ passId: view.passId, status: 'failed', error: view.error });
        } catch (bookkeepingError) {
          // The pass row stays `running` in Postgres; the workflow's state says why, and the next
          // request is still served rather than the whole unification failing.
          if (!(bookkeepingError instanceof ActivityFailure)) throw bookkeepingError;
          view.error = `${view.error}; the pass could not be marked failed: ${failureMessage(bookkeepingError)}`;
        }
      }
    }
    view.phase = null;
    view.finishedAt = iso(Date.now());
    this.markRequests(view, view.status === 'completed' ? 'completed' : 'failed');
  }

  /** The match of a full pass: sharded when the plan says it can be, else the one activity (with why not in its stats). */
  private async match(pass: number, passId: string, runPhase: () => Promise<PhaseResult>): Promise<PhaseResult> {
    const plan: MatchShardPlan = await planning.planMatchShards({ passId });
    if (!plan.shards.length) {
      const { stats } = await runPhase();
      return { stats: { ...stats, sharded: 'no', shardReason: plan.reason } };
    }
    await Promise.all([
      phases.matchCustomerSourceLinks.executeWithOptions({ ...SHARD_ACTIVITY, summary: `Pass ${pass}. Match: overrides and source links` }, [{ passId }]),
      ...plan.shards.map(({ step, shard, rule }) => phases.matchCustomerShard.executeWithOptions(
        { ...SHARD_ACTIVITY, summary: `Pass ${pass}. Match: rule ${rule}, shard ${shard + 1} of ${plan.shardCount}` },
        [{ passId, step, shard, shards: plan.shardCount }],
      )),
    ]);
    const { stats } = await bookkeeping.combineMatchShards({ passId, shardCount: plan.shardCount, records: plan.records });
    return { stats: { ...stats, sharded: 'yes', shardReason: plan.reason } };
  }

  private markRequests(view: PassView, status: 'running' | 'completed' | 'failed'): void {
    for (const id of view.requestIds) if (this.state.requests[id]) this.state.requests[id] = { pass: view.pass, status };
  }

  private summarise(view: PassView): UnificationSummary {
    const stats = (phase: UnificationPhase) => view.phases.find((p) => p.phase === phase)?.stats ?? null;
    return {
      records: num(stats('map'), 'records'),
      links: num(stats('match'), 'links'),
      customers: num(stats('merge'), 'customers'),
      created: num(stats('cluster'), 'created'),
      kept: num(stats('cluster'), 'kept'),
      joined: num(stats('cluster'), 'joined'),
      split: num(stats('cluster'), 'split'),
      profilesChanged: num(stats('merge'), 'changed'),
      profilesRemoved: num(stats('merge'), 'removed'),
    };
  }
}

export async function customerUnificationWorkflow(input: UnificationInput): Promise<UnificationState> {
  const unification = new CustomerUnification(input);
  unification.setup();
  return unification.run();
}

/**
 * What the nightly Schedule starts (a Schedule appends the time to the ids it starts, so it
 * cannot start `customer-unification` itself): hands its request to the running unification,
 * or starts one.
 */
export async function scheduledCustomerUnificationWorkflow(): Promise<ScheduledUnificationResult> {
  const request: UnificationRequest = { requestId: `schedule:${workflowInfo().workflowId}`, trigger: 'schedule', by: 'schedule' };
  for (let attempt = 1; ; attempt++) {
    try {
      await startChild(customerUnificationWorkflow, {
        workflowId: CUSTOMER_UNIFICATION_WORKFLOW_ID,
        args: [{ requests: [request] }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: 'Customer unification (nightly)',
      });
      return { requestId: request.requestId, via: 'started' };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    try {
      await getExternalWorkflowHandle(CUSTOMER_UNIFICATION_WORKFLOW_ID).signal(requestUnificationSignal, request);
      return { requestId: request.requestId, via: 'signaled' };
    } catch (error) {
      // It ended between our two calls: start it again.
      if (attempt >= 10) throw ApplicationFailure.nonRetryable(`could not hand the request to ${CUSTOMER_UNIFICATION_WORKFLOW_ID}: ${(error as Error).message}`, 'unification_unreachable');
      await sleep('1 second');
    }
  }
}
