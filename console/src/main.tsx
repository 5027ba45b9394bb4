/** The rep's console: sign in with a token, then the pages the signed-in role may use. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, onUnauthorized, read, session, type Me } from './api/client';
import { isSupervisor, recordsTechChecks } from './access';
import { humanize } from './format';
import { Field, ProblemMessage, useAction, useRoute } from './ui';
import { MyWork } from './pages/work';
import { LeadPage, Leads } from './pages/leads';
import { Pipeline } from './pages/pipeline';
import { DealPage } from './pages/deal';
import { TechChecks } from './pages/techChecks';
import { CustomerPage, Customers } from './pages/customers';
import { Audit } from './pages/audit';
import { OrderPage } from './pages/order';

function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [token, setToken] = useState('');
  const action = useAction();
  useEffect(() => {
    document.title = 'Sign in · Contoso sales console';
  }, []);
  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      session.signIn(token.trim());
      try {
        onSignedIn(await read(() => api.GET('/me')));
      } catch (error) {
        session.signOut();
        throw error;
      }
    });
  };
  return (
    <main class="signin" id="main">
      <form class="card" onSubmit={submit} aria-describedby="signin-help">
        <h1>Contoso sales console</h1>
        <p id="signin-help">Paste your API token (it starts with <code>sps_</code>). It stays in this tab only and is forgotten when you sign out or close the tab.</p>
        <Field label="API token">
          <input type="password" name="token" autoComplete="off" required value={token} onInput={(e) => setToken(e.currentTarget.value)} aria-invalid={action.problem ? 'true' : undefined} />
        </Field>
        <ProblemMessage problem={action.problem} />
        <button type="submit" class="button primary" disabled={action.busy || !token.trim()}>Sign in</button>
      </form>
    </main>
  );
}

interface NavItem {
  path: string;
  label: string;
  show: (me: Me) => boolean;
}

const NAV: NavItem[] = [
  { path: 'work', label: 'My work', show: () => true },
  { path: 'leads', label: 'Leads', show: () => true },
  { path: 'pipeline', label: 'Pipeline', show: () => true },
  { path: 'tech-checks', label: 'Tech Checks', show: () => true },
  { path: 'customers', label: 'Customers', show: () => true },
  { path: 'audit', label: 'Audit log', show: isSupervisor },
];

function Shell({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  const route = useRoute();
  const [section, id] = route;
  const home = recordsTechChecks(me) ? 'tech-checks' : 'work';
  useEffect(() => {
    if (!section) location.replace(`#/${home}`);
  }, [section]);
  // A new page: focus its heading, so keyboard and screen-reader users start there.
  useEffect(() => {
    document.getElementById('page-title')?.focus({ preventScroll: false });
  }, [route.join('/')]);
  const page = (() => {
    switch (section) {
      case 'work': return <MyWork me={me} />;
      case 'leads': return id ? <LeadPage me={me} id={id} /> : <Leads me={me} />;
      case 'pipeline': return <Pipeline me={me} />;
      case 'deals': return id ? <DealPage me={me} id={id} /> : <Pipeline me={me} />;
      case 'tech-checks': return <TechChecks me={me} />;
      case 'customers': return id ? <CustomerPage id={id} /> : <Customers />;
      case 'orders': return id ? <OrderPage id={id} /> : null;
      case 'audit': return isSupervisor(me) ? <Audit /> : null;
      default: return null;
    }
  })();
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('page-title')?.focus(); }}>Skip to content</a>
      <header class="topbar">
        <span class="brand">Contoso <span>sales</span></span>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => n.show(me)).map((n) => (
              <li key={n.path}><a href={`#/${n.path}`} aria-current={section === n.path || (n.path === 'pipeline' && section === 'deals') ? 'page' : undefined}>{n.label}</a></li>
            ))}
          </ul>
        </nav>
        <div class="whoami">
          <span>{me.name} <small>({humanize(me.role)})</small></span>
          <button type="button" class="button secondary" onClick={onSignOut}>Sign out</button>
        </div>
      </header>
      <main id="main">{page ?? <p class="empty">Nothing here. <a href={`#/${home}`}>Back to the start</a>.</p>}</main>
    </>
  );
}

function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(Boolean(session.token()));
  useEffect(() => {
    if (session.token()) {
      read(() => api.GET('/me')).then(setMe, () => session.signOut()).finally(() => setChecking(false));
    }
    return onUnauthorized(() => {
      session.signOut();
      setMe(null);
    });
  }, []);
  const signOut = () => {
    session.signOut();
    setMe(null);
  };
  if (checking) return <main class="signin" id="main" aria-busy="true"><p>Signing in…</p></main>;
  return me ? <Shell me={me} onSignOut={signOut} /> : <SignIn onSignedIn={setMe} />;
}

render(<App />, document.getElementById('root')!);
