import { useEffect, useReducer } from 'react';
import { ISignal } from '@lumino/signaling';

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
