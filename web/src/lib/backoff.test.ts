// Unit tests of the reconnect backoff: growth, cap, reset and jitter bounds.
import { describe, expect, it } from 'vitest';
import { Backoff, backoffCeiling, backoffDelay } from './backoff';

describe('backoff', () => {
  const opts = { baseMs: 500, maxMs: 30_000, factor: 2 };

  it('grows exponentially up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffCeiling(a, opts))).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
    expect(backoffCeiling(10_000, opts)).toBe(30_000);
  });

  it('keeps jittered delays within [ceiling*(1-jitter), ceiling]', () => {
    for (const jitter of [0, 0.25, 0.5, 1]) {
      for (let attempt = 0; attempt < 12; attempt++) {
        const ceiling = backoffCeiling(attempt, opts);
        const lo = backoffDelay(attempt, { ...opts, jitter, random: () => 0 });
        const hi = backoffDelay(attempt, { ...opts, jitter, random: () => 0.999999 });
        expect(lo).toBe(Math.round(ceiling * (1 - jitter)));
        expect(hi).toBeLessThanOrEqual(ceiling);
        expect(hi).toBeGreaterThanOrEqual(Math.round(ceiling * (1 - jitter)));
        for (let i = 0; i < 50; i++) {
          const d = backoffDelay(attempt, { ...opts, jitter });
          expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling * (1 - jitter)));
          expect(d).toBeLessThanOrEqual(ceiling);
        }
      }
    }
  });

  it('actually spreads delays (jitter is not constant)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) seen.add(backoffDelay(6, { ...opts, jitter: 0.5 }));
    expect(seen.size).toBeGreaterThan(10);
  });

  it('clamps a misbehaving random source', () => {
    expect(backoffDelay(0, { ...opts, jitter: 0.5, random: () => 5 })).toBeLessThanOrEqual(500);
    expect(backoffDelay(0, { ...opts, jitter: 0.5, random: () => -1 })).toBe(250);
  });

  it('counts attempts and resets', () => {
    const b = new Backoff({ ...opts, jitter: 0, random: () => 0 });
    expect([b.next(), b.next(), b.next()]).toEqual([500, 1000, 2000]);
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(500);
  });
});
