// Small React hooks: re-render on client/auth changes, a ticking clock, media queries.
import { useEffect, useState, useSyncExternalStore } from 'react';

interface Subscribable {
  subscribe: (fn: () => void) => () => void;
}

/** Re-renders when the store announces a change; returns its version. */
export function useStore<T>(store: Subscribable, getSnapshot: () => T): T {
  return useSyncExternalStore(store.subscribe, getSnapshot, getSnapshot);
}

/** The current time, updated every `everyMs` while `active`. */
export function useNow(everyMs = 1000, active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs, active]);
  return now;
}

export function useMediaQuery(query: string): boolean {
  const get = () => (typeof window !== 'undefined' && window.matchMedia ? window.matchMedia(query).matches : false);
  const [matches, setMatches] = useState(get);
  useEffect(() => {
    const mq = window.matchMedia(query);
    const on = () => setMatches(mq.matches);
    on();
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, [query]);
  return matches;
}
