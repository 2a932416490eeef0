// Exponential reconnect backoff with jitter, as a small pure class for unit tests.

export interface BackoffOptions {
  /** First delay ceiling in ms (attempt 0). */
  baseMs?: number;
  /** Largest delay ceiling in ms. */
  maxMs?: number;
  /** Growth per attempt. */
  factor?: number;
  /**
   * Share of the ceiling that is randomised, 0..1. With 0.5 a delay lies in
   * [ceiling/2, ceiling]; with 1 it is "full jitter" in [0, ceiling].
   */
  jitter?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/** Ceiling of the delay for a given attempt (no randomness). */
export function backoffCeiling(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 500;
  const max = opts.maxMs ?? 30_000;
  const factor = opts.factor ?? 2;
  const n = Math.max(0, Math.floor(attempt));
  // Guard against overflow for large attempt counts.
  const raw = base * Math.pow(factor, Math.min(n, 64));
  return Math.min(max, Number.isFinite(raw) ? raw : max);
}

/** Delay in ms for a given attempt, within [ceiling*(1-jitter), ceiling]. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const ceiling = backoffCeiling(attempt, opts);
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
  const r = Math.min(0.999999, Math.max(0, (opts.random ?? Math.random)()));
  return Math.round(ceiling * (1 - jitter) + r * ceiling * jitter);
}

/** Stateful helper: each next() grows the delay; reset() after a good connection. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions = {}) {}

  /** The delay before the next try, and counts the try. */
  next(): number {
    const d = backoffDelay(this.attempt, this.opts);
    this.attempt += 1;
    return d;
  }

  reset(): void {
    this.attempt = 0;
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }
}
