// Unit tests of ReconnectingSocket with a fake WebSocket and fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReconnectingSocket, type ConnState } from './socket';

class FakeWS {
  static all: FakeWS[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeWS.all.push(this);
  }
  send(d: string) {
    this.sent.push(d);
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  serverClose(code: number) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  receive(obj: unknown) {
    this.onmessage?.({ data: JSON.stringify(obj) });
  }
}
const last = () => FakeWS.all[FakeWS.all.length - 1];
const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function make(extra: Partial<ConstructorParameters<typeof ReconnectingSocket>[0]> = {}) {
  const statuses: ConnState[] = [];
  const frames: unknown[] = [];
  const opens: number[] = [];
  let n = 0;
  const s = new ReconnectingSocket({
    WebSocketImpl: FakeWS as unknown as new (url: string) => WebSocket,
    getUrl: () => `ws://test/ws?token=t${++n}`,
    onFrame: (d) => frames.push(d),
    onOpen: () => opens.push(Date.now()),
    onStatus: (st) => statuses.push(st),
    random: () => 0.5,
    backoff: { baseMs: 1000, maxMs: 8000, jitter: 0.5 },
    ...extra,
  });
  return { s, statuses, frames, opens };
}

beforeEach(() => {
  FakeWS.all = [];
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe('ReconnectingSocket', () => {
  it('connects, parses frames and sends only while open', async () => {
    const { s, frames, statuses } = make();
    s.start();
    await flush();
    expect(s.send({ type: 'ping' })).toBe(false);
    last().open();
    expect(statuses.at(-1)?.state).toBe('connected');
    expect(s.send({ type: 'ping' })).toBe(true);
    expect(last().sent).toEqual(['{"type":"ping"}']);
    last().receive({ type: 'pong' });
    last().onmessage?.({ data: 'not json' });
    expect(frames).toEqual([{ type: 'pong' }]);
  });

  it('reconnects with growing jittered delays and shows the next try', async () => {
    const { s, statuses } = make();
    s.start();
    await flush();
    last().serverClose(1006); // never opened
    const st = statuses.at(-1)!;
    expect(st.state).toBe('reconnecting');
    // attempt 0: ceiling 1000, jitter 0.5, random 0.5 -> 750
    if (st.state === 'reconnecting') expect(st.retryAt - Date.now()).toBe(750);
    vi.advanceTimersByTime(749);
    await flush();
    expect(FakeWS.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    await flush();
    expect(FakeWS.all).toHaveLength(2);
    last().serverClose(1006);
    const st2 = statuses.at(-1)!;
    if (st2.state === 'reconnecting') expect(st2.retryAt - Date.now()).toBe(1500);
    s.stop();
  });

  it('refreshes the token on close 4001, then reconnects at once', async () => {
    const refresh = vi.fn(async () => true);
    const { s } = make({ onTokenExpired: refresh });
    s.start();
    await flush();
    last().open();
    last().serverClose(4001);
    await flush();
    expect(refresh).toHaveBeenCalledOnce();
    expect(FakeWS.all).toHaveLength(2);
    expect(last().url).toContain('token=t2');
  });

  it('stops when the session cannot be renewed', async () => {
    const { s, statuses } = make({ onTokenExpired: async () => false });
    s.start();
    await flush();
    last().open();
    last().serverClose(4001);
    await flush();
    expect(statuses.at(-1)).toEqual({ state: 'stopped', reason: 'session expired' });
  });

  it('comes back soon after 1001 and waits longer after 1008', async () => {
    const { s, statuses } = make();
    s.start();
    await flush();
    last().open();
    last().serverClose(1001);
    let st = statuses.at(-1)!;
    if (st.state === 'reconnecting') expect(st.retryAt - Date.now()).toBeLessThanOrEqual(1000);
    vi.advanceTimersByTime(1000);
    await flush();
    last().open();
    last().serverClose(1008);
    st = statuses.at(-1)!;
    if (st.state === 'reconnecting') expect(st.retryAt - Date.now()).toBeGreaterThanOrEqual(5000);
    s.stop();
  });

  it('goes offline and reconnects when back online', async () => {
    const { s, statuses } = make();
    s.start();
    await flush();
    last().open();
    s.goOffline();
    expect(statuses.at(-1)).toEqual({ state: 'offline' });
    vi.advanceTimersByTime(60_000);
    await flush();
    expect(FakeWS.all).toHaveLength(1);
    s.goOnline();
    await flush();
    expect(FakeWS.all).toHaveLength(2);
  });

  it('retries at once on wake (online event, tab visible) instead of waiting out the backoff', async () => {
    const { s, statuses } = make({ backoff: { baseMs: 1000, maxMs: 8000, jitter: 0.5 } });
    s.start();
    await flush();
    for (let i = 0; i < 4; i++) {
      last().serverClose(1006);
      vi.advanceTimersByTime(8000);
      await flush();
    }
    last().serverClose(1006); // the server is down: the next try is seconds away
    const n = FakeWS.all.length;
    const st = statuses.at(-1)!;
    expect(st.state).toBe('reconnecting');
    if (st.state === 'reconnecting') expect(st.retryAt - Date.now()).toBeGreaterThan(3000);
    s.goOnline(); // the browser's online event while not in the offline state
    await flush();
    expect(FakeWS.all).toHaveLength(n + 1);
    last().serverClose(1006); // still down: back to a short, fresh backoff
    const st2 = statuses.at(-1)!;
    if (st2.state === 'reconnecting') expect(st2.retryAt - Date.now()).toBe(750);
    s.wake(); // tab became visible
    await flush();
    expect(FakeWS.all).toHaveLength(n + 2);
    last().open();
    s.wake(); // connected: nothing to do
    await flush();
    expect(FakeWS.all).toHaveLength(n + 2);
    s.stop();
  });

  it('caps the default backoff at 5 s (jittered)', async () => {
    const { s, statuses } = make({ backoff: undefined, random: () => 0.999999 });
    s.start();
    await flush();
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      last().serverClose(1006);
      const st = statuses.at(-1)!;
      if (st.state === 'reconnecting') delays.push(st.retryAt - Date.now());
      vi.advanceTimersByTime(60_000);
      await flush();
    }
    expect(Math.max(...delays)).toBeLessThanOrEqual(5000);
    expect(delays[0]).toBeLessThanOrEqual(500);
    s.stop();
  });

  it('treats a silent socket as dead', async () => {
    const { s } = make({ pingIntervalMs: 1000, idleTimeoutMs: 3000 });
    s.start();
    await flush();
    last().open();
    vi.advanceTimersByTime(2000);
    expect(last().sent).toContain('{"type":"ping"}');
    vi.advanceTimersByTime(2500);
    await flush();
    vi.advanceTimersByTime(10_000);
    await flush();
    expect(FakeWS.all.length).toBeGreaterThanOrEqual(2);
    s.stop();
  });

  it('stops when getUrl says the session is gone', async () => {
    const { s, statuses } = make({ getUrl: () => null });
    s.start();
    await flush();
    expect(FakeWS.all).toHaveLength(0);
    expect(statuses.at(-1)?.state).toBe('stopped');
  });
});
