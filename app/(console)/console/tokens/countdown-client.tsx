'use client';

import { useEffect, useState } from 'react';

function format(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s >= 172800) return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return `${h > 0 ? `${h}h ` : ''}${String(m).padStart(h > 0 ? 2 : 1, '0')}m ${String(r).padStart(2, '0')}s`;
}

/**
 * Live time left until `expiresAt` (ISO string), ticking every second, on the sandbox's clock
 * (`clockOffsetSeconds` ahead of real time in a workshop sandbox whose clock was moved).
 */
export function ExpiryCountdown({ expiresAt, revoked, clockOffsetSeconds = 0 }: { expiresAt: string; revoked: boolean; clockOffsetSeconds?: number }) {
  const target = new Date(expiresAt).getTime();
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    const tick = () => setNow(Date.now() + clockOffsetSeconds * 1000);
    tick();
    const t = setInterval(tick, 1000);
    return () => clearInterval(t);
  }, [clockOffsetSeconds]);
  if (revoked) return <span className="countdown">revoked (expiry no longer matters)</span>;
  if (now === null) return <span className="countdown">…</span>;
  const left = target - now;
  return (
    <span className="countdown" data-testid="expiry-countdown">
      {left > 0 ? `expires in ${format(left)}` : `expired ${format(-left)} ago`}
    </span>
  );
}
