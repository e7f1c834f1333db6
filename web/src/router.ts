/** Path routing under /ui/ (the server answers index.html for every /ui/* path, so deep links and reloads work). */
import { useEffect, useState } from 'preact/hooks';

const subs = new Set<() => void>();

export function navigate(path: string): void {
  if (path !== location.pathname + location.search) history.pushState(null, '', path);
  for (const s of subs) s();
}

addEventListener('popstate', () => {
  for (const s of subs) s();
});

export function usePath(): string {
  const [p, setP] = useState(location.pathname);
  useEffect(() => {
    const f = () => setP(location.pathname);
    subs.add(f);
    return () => void subs.delete(f);
  }, []);
  return p;
}
