import { DependencyList, useEffect, useReducer, useState } from 'react';
import { ISignal } from '@lumino/signaling';

import { errorMessage } from '../request';

/** Re-render whenever a Lumino signal fires. */
export function useSignal(signal: ISignal<any, any>): void {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    const slot = () => bump();
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
    };
  }, [signal]);
}

/** What `useFetched` read: the last value (null until the first reply) and why the last read
 * failed (null after a success). */
export interface IFetched<T> {
  value: T | null;
  error: string | null;
}

/**
 * Read `load()` on mount and again whenever `deps` change. A reply sets `value` and clears
 * `error`; a failure sets `error` to its message and keeps the last value, so a view can
 * show both. A reply to a read that `deps` or an unmount made stale is dropped.
 */
export function useFetched<T>(
  load: () => Promise<T>,
  deps: DependencyList
): IFetched<T> {
  const [fetched, setFetched] = useState<IFetched<T>>({
    value: null,
    error: null
  });
  useEffect(() => {
    let cancelled = false;
    load()
      .then(value => {
        if (!cancelled) {
          setFetched({ value, error: null });
        }
      })
      .catch(e => {
        if (!cancelled) {
          setFetched(old => ({ value: old.value, error: errorMessage(e) }));
        }
      });
    return () => {
      cancelled = true;
    };
  }, deps);
  return fetched;
}

/** How many of a long list to show, a page at a time: `[count, more]`, where `more()` shows
 * the next page. */
export function usePages(page: number): [number, () => void] {
  const [count, setCount] = useState(page);
  return [count, () => setCount(n => n + page)];
}
