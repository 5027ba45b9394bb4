/** The console's building blocks: loading data, running an action, showing a problem in place. */
import { cloneElement, type ComponentChildren, type JSX, type VNode } from 'preact';
import { useCallback, useEffect, useId, useRef, useState } from 'preact/hooks';
import { ProblemError, type Problem } from './api/client';

export interface Loaded<T> {
  data: T | null;
  problem: Problem | null;
  loading: boolean;
  reload: () => void;
}

function asProblem(error: unknown): Problem {
  if (error instanceof ProblemError) return error.problem;
  return { status: 0, code: 'network_error', detail: error instanceof Error ? `The service could not be reached (${error.message}).` : 'The service could not be reached.' };
}

/** Data for a page: loaded when `deps` change, kept while it reloads (no flash, no layout shift). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; problem: Problem | null; loading: boolean }>({ data: null, problem: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => current && setState({ data, problem: null, loading: false }),
      (error: unknown) => current && setState((s) => ({ data: s.data, problem: asProblem(error), loading: false })),
    );
    return () => {
      current = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export interface Action {
  busy: boolean;
  problem: Problem | null;
  /** Runs one user action; its problem, if any, is kept to be shown where the user acted. */
  run: (work: () => Promise<unknown>) => Promise<boolean>;
  clear: () => void;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const running = useRef(false);
  const run = useCallback(async (work: () => Promise<unknown>) => {
    // A second click while the first is on its way is the same action, not another one.
    if (running.current) return false;
    running.current = true;
    setBusy(true);
    setProblem(null);
    try {
      await work();
      return true;
    } catch (error) {
      setProblem(asProblem(error));
      return false;
    } finally {
      running.current = false;
      setBusy(false);
    }
  }, []);
  return { busy, problem, run, clear: useCallback(() => setProblem(null), []) };
}

/** A refusal or an outage, where it happened, read out by screen readers. */
export function ProblemMessage({ problem, id }: { problem: Problem | null; id?: string }) {
  if (!problem) return null;
  const fields = problem.errors?.filter((e) => e.field !== 'body') ?? [];
  return (
    <div class="problem" role="alert" id={id} data-code={problem.code}>
      <strong>{problem.detail}</strong>
      {fields.length > 1 && (
        <ul>
          {fields.map((e) => <li key={`${e.field}-${e.code}`}>{e.field}: {e.message}</li>)}
        </ul>
      )}
      <span class="problem-code">{problem.code}{problem.requestId ? ` · request ${problem.requestId}` : ''}</span>
    </div>
  );
}

/** What a page shows while its data comes: a block of the same height, so nothing jumps. */
export function Loading({ rows = 3 }: { rows?: number }) {
  return (
    <div class="loading" aria-busy="true" aria-label="Loading">
      {Array.from({ length: rows }, (_, i) => <div class="skeleton" key={i} />)}
    </div>
  );
}

export function Show<T>({ state, rows, children }: { state: Loaded<T>; rows?: number; children: (data: T) => ComponentChildren }) {
  if (state.data === null) return state.problem ? <ProblemMessage problem={state.problem} /> : <Loading rows={rows} />;
  return (
    <>
      {state.problem && <ProblemMessage problem={state.problem} />}
      {children(state.data)}
    </>
  );
}

export function Button({ action, onClick, children, kind = 'secondary', ...rest }: {
  action?: Action; onClick: () => unknown; children: ComponentChildren; kind?: 'primary' | 'secondary' | 'danger';
} & Omit<JSX.HTMLAttributes<HTMLButtonElement>, 'onClick' | 'action'>) {
  return (
    <button type="button" class={`button ${kind}`} aria-busy={action?.busy ? 'true' : undefined} disabled={action?.busy} onClick={() => void onClick()} {...rest}>
      {children}
    </button>
  );
}

/** A labelled control: the label names only the control (not its options or value), the hint describes it. */
export function Field({ label, children, hint }: { label: string; children: VNode<Record<string, unknown>>; hint?: string }) {
  const id = useId();
  return (
    <div class="field">
      <label class="field-label" for={id}>{label}</label>
      {cloneElement(children, { id, 'aria-describedby': hint ? `${id}-hint` : undefined })}
      {hint && <span class="field-hint" id={`${id}-hint`}>{hint}</span>}
    </div>
  );
}

export function Page({ title, actions, children }: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · Contoso sales console`;
  }, [title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title" tabIndex={-1}>{title}</h1>
        {actions && <div class="page-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section class="card" aria-labelledby={id}>
      <header class="card-header">
        <h2 id={id}>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export const Empty = ({ children }: { children: ComponentChildren }) => <p class="empty">{children}</p>;

/** The current hash route, `#/deals/123` → ['deals', '123']. */
export function useRoute(): string[] {
  const parse = () => location.hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const onChange = () => setRoute(parse());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export const go = (path: string): void => {
  location.hash = `#/${path.replace(/^\//, '')}`;
};

export const Status = ({ value }: { value: string }) => <span class={`status status-${value}`}>{value.replace(/_/g, ' ')}</span>;
