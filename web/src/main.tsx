import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { can, logout, onSession, refresh, user, type User } from './api';
import { liveSocket } from './live';
import { CameraPage, Events, Grid, Login, Rules, Search, System, Users } from './pages';
import { navigate, usePath } from './router';
import { events } from './stream';
import './style.css';

function Nav(props: { u: User; path: string }) {
  const links: Array<[string, string, boolean]> = [
    ['/ui/', 'Live', true],
    ['/ui/events', 'Events', true],
    ['/ui/search', 'Search', true],
    ['/ui/rules', 'Rules', true],
    ['/ui/system', 'System', true],
    ['/ui/users', 'Users', can('users')],
  ];
  return (
    <nav aria-label="Main">
      <strong class="brand">Vigil</strong>
      {links
        .filter((l) => l[2])
        .map(([href, label]) => (
          <a
            key={href}
            href={href}
            aria-current={props.path === href || (href !== '/ui/' && props.path.startsWith(href)) ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault();
              navigate(href);
            }}
          >
            {label}
          </a>
        ))}
      <span class="spacer" />
      <span class="muted">
        {props.u.username} ({props.u.role})
      </span>
      <button
        onClick={async () => {
          // Live streams end with the session: both sockets close before the cookie is revoked.
          liveSocket.close();
          events.stop();
          await logout();
          navigate('/ui/');
        }}
      >
        Log out
      </button>
    </nav>
  );
}

function App() {
  const [u, setU] = useState<User | null>(user());
  const [ready, setReady] = useState(false);
  const path = usePath();
  useEffect(() => {
    const off = onSession((x) => {
      setU(x);
      if (x) events.start();
      else {
        events.stop();
        liveSocket.close();
      }
    });
    void refresh().finally(() => setReady(true));
    return off;
  }, []);
  if (!ready) return <p class="center">Loading…</p>;
  if (!u) return <Login />;
  const cam = /^\/ui\/cameras\/([^/]+)$/.exec(path);
  let page;
  if (cam) page = <CameraPage id={decodeURIComponent(cam[1]!)} key={cam[1]} />;
  else if (path.startsWith('/ui/events')) page = <Events />;
  else if (path.startsWith('/ui/search')) page = <Search />;
  else if (path.startsWith('/ui/rules')) page = <Rules />;
  else if (path.startsWith('/ui/system')) page = <System />;
  else if (path.startsWith('/ui/users') && can('users')) page = <Users />;
  else page = <Grid />;
  return (
    <>
      <Nav u={u} path={path} />
      <main>{page}</main>
    </>
  );
}

if (location.pathname === '/') history.replaceState(null, '', '/ui/');
render(<App />, document.getElementById('app')!);
