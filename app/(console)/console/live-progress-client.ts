'use client';

import { useEffect, useEffectEvent, useState } from 'react';

/** `connecting` until the stream opens and again while the browser reconnects; `ended` once the server ended it. */
export type LiveState = 'connecting' | 'live' | 'ended';

/**
 * The latest `progress` event of a workshop's server-sent event stream (lib/console/workshops-api.ts),
 * `initial` until the first one arrives. After an error the browser reconnects on its own (the
 * stream's `retry`); the `ending` event (the room deleted or closed) closes the stream for good, so
 * the browser does not reconnect to a room that is gone, and runs `onEnd`.
 */
export function useLiveProgress<T>(url: string, ending: string, initial: T, onEnd?: () => void): { data: T; state: LiveState } {
  const [data, setData] = useState(initial);
  const [state, setState] = useState<LiveState>('connecting');
  const ended = useEffectEvent(() => onEnd?.());

  useEffect(() => {
    const source = new EventSource(url);
    source.addEventListener('open', () => setState('live'));
    source.addEventListener('error', () => setState((s) => (s === 'ended' ? s : 'connecting')));
    source.addEventListener('progress', (event) => {
      setState('live');
      setData(JSON.parse((event as MessageEvent<string>).data) as T);
    });
    source.addEventListener(ending, () => {
      source.close();
      setState('ended');
      ended();
    });
    return () => source.close();
  }, [url, ending]);

  return { data, state };
}
