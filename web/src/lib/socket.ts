// Reconnecting WebSocket client: backoff with jitter (capped at a few seconds),
// close-code handling (4001 token expired, 1001 going away, 1008 policy), keep-alive
// pings and online/offline awareness: wake() retries at once when the browser says
// the network is back or the tab became visible. Frames are JSON; no React in here.

import { Backoff, type BackoffOptions } from './backoff';

export type ConnState =
  | { state: 'connecting'; attempt: number }
  | { state: 'connected'; since: number }
  | { state: 'reconnecting'; attempt: number; retryAt: number; reason: string }
  | { state: 'offline' }
  | { state: 'stopped'; reason: string };

export interface ConnectContext {
  attempt: number;
  /** Close code of the previous socket, if any. */
  lastCloseCode?: number;
  /** Whether the previous socket failed before it opened (e.g. HTTP 401 on upgrade). */
  failedBeforeOpen: boolean;
}

export interface SocketOptions {
  /** Builds the URL for a try; null stops the client (e.g. the session is gone). */
  getUrl: (ctx: ConnectContext) => Promise<string | null> | string | null;
  onFrame: (data: unknown) => void;
  onOpen?: () => void;
  onStatus?: (s: ConnState) => void;
  /** Close code 4001: refresh the token; resolve true to reconnect at once. */
  onTokenExpired?: () => Promise<boolean>;
  backoff?: BackoffOptions;
  WebSocketImpl?: new (url: string) => WebSocket;
  isOnline?: () => boolean;
  pingIntervalMs?: number;
  /** No frame at all for this long on an open socket: treat it as dead. */
  idleTimeoutMs?: number;
  /** A try that has not opened after this long is abandoned. */
  connectTimeoutMs?: number;
  /** A connection that lasted this long resets the backoff. */
  stableAfterMs?: number;
  random?: () => number;
}

const OPEN = 1;

/** Reconnect delays grow from 500 ms to at most this (jittered): a server that is back is found soon. */
export const RECONNECT_MAX_MS = 5_000;

export class ReconnectingSocket {
  private ws: WebSocket | null = null;
  private backoff: Backoff;
  private status: ConnState = { state: 'stopped', reason: 'not started' };
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private lastFrameAt = 0;
  private openedAt = 0;
  private running = false;
  private offline = false;
  private generation = 0;
  private lastCloseCode?: number;
  private failedBeforeOpen = false;

  constructor(private readonly opts: SocketOptions) {
    this.backoff = new Backoff({ baseMs: 500, maxMs: RECONNECT_MAX_MS, jitter: 0.5, ...opts.backoff, random: opts.random });
  }

  get state(): ConnState {
    return this.status;
  }

  get isOpen(): boolean {
    return !!this.ws && this.ws.readyState === OPEN && this.status.state === 'connected';
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.offline = this.opts.isOnline ? !this.opts.isOnline() : false;
    if (this.offline) this.setStatus({ state: 'offline' });
    else void this.connect();
  }

  stop(reason = 'stopped'): void {
    this.running = false;
    this.clearTimers();
    this.abandon();
    this.setStatus({ state: 'stopped', reason });
  }

  /** Sends one JSON frame if the socket is open; false otherwise. */
  send(frame: object): boolean {
    if (!this.isOpen || !this.ws) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Skips the wait of a scheduled reconnect. */
  reconnectNow(): void {
    if (!this.running || this.offline) return;
    if (this.status.state === 'reconnecting') {
      this.clearTimers();
      void this.connect();
    }
  }

  /** The browser says the network is gone: drop the socket, wait for online. */
  goOffline(): void {
    if (!this.running) return;
    this.offline = true;
    this.clearTimers();
    this.abandon();
    this.setStatus({ state: 'offline' });
  }

  /** The browser's `online` event: leave the offline state, or skip a backoff wait. */
  goOnline(): void {
    if (!this.running) return;
    if (!this.offline) {
      this.wake();
      return;
    }
    this.offline = false;
    this.backoff.reset();
    void this.connect();
  }

  /**
   * Something suggests the server may be reachable again (network back, tab visible):
   * a scheduled reconnect happens now, with a fresh backoff. No-op while connected or
   * while a try is under way.
   */
  wake(): void {
    if (!this.running || this.offline || this.status.state !== 'reconnecting') return;
    if (this.opts.isOnline && !this.opts.isOnline()) return;
    this.clearTimers();
    this.backoff.reset();
    void this.connect();
  }

  /** Closes the current socket on purpose and reconnects (e.g. after re-login). */
  restart(): void {
    if (!this.running) return;
    this.clearTimers();
    this.abandon();
    this.backoff.reset();
    void this.connect();
  }

  private setStatus(s: ConnState): void {
    this.status = s;
    this.opts.onStatus?.(s);
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.timer = this.connectTimer = this.pingTimer = null;
  }

  /** Detaches and closes the current socket without triggering a reconnect. */
  private abandon(): void {
    const ws = this.ws;
    this.ws = null;
    this.generation++;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    try {
      ws.close(1000);
    } catch {
      /* already closing */
    }
  }

  private async connect(): Promise<void> {
    if (!this.running || this.offline) return;
    const gen = ++this.generation;
    const attempt = this.backoff.attempts;
    this.setStatus({ state: 'connecting', attempt });
    let url: string | null;
    try {
      url = await this.opts.getUrl({
        attempt,
        lastCloseCode: this.lastCloseCode,
        failedBeforeOpen: this.failedBeforeOpen,
      });
    } catch {
      if (gen === this.generation) this.schedule(this.backoff.next(), 'could not prepare the connection');
      return;
    }
    if (gen !== this.generation || !this.running || this.offline) return;
    if (url === null) {
      this.stop('session ended');
      return;
    }
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      ws = new Impl(url);
    } catch {
      this.schedule(this.backoff.next(), 'could not open a socket');
      return;
    }
    this.ws = ws;
    let opened = false;
    this.connectTimer = setTimeout(() => {
      if (gen !== this.generation || opened) return;
      this.abandon();
      this.onClosed(4000, false);
    }, this.opts.connectTimeoutMs ?? 15_000);

    ws.onopen = () => {
      if (gen !== this.generation) return;
      opened = true;
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      this.openedAt = this.lastFrameAt = Date.now();
      this.failedBeforeOpen = false;
      this.setStatus({ state: 'connected', since: this.openedAt });
      this.startPings(gen);
      this.opts.onOpen?.();
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (gen !== this.generation) return;
      this.lastFrameAt = Date.now();
      if (typeof ev.data !== 'string') return;
      let data: unknown;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.opts.onFrame(data);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (gen !== this.generation) return;
      this.ws = null;
      this.onClosed(ev.code, opened);
    };
    ws.onerror = () => {
      /* a close event always follows */
    };
  }

  private startPings(gen: number): void {
    const every = this.opts.pingIntervalMs ?? 25_000;
    const idle = this.opts.idleTimeoutMs ?? 65_000;
    this.pingTimer = setInterval(() => {
      if (gen !== this.generation) return;
      if (Date.now() - this.lastFrameAt > idle) {
        this.abandon();
        this.onClosed(4000, true);
        return;
      }
      this.send({ type: 'ping' });
    }, every);
  }

  private onClosed(code: number, wasOpen: boolean): void {
    this.clearTimers();
    this.lastCloseCode = code;
    this.failedBeforeOpen = !wasOpen;
    if (!this.running || this.offline) return;
    if (wasOpen && Date.now() - this.openedAt >= (this.opts.stableAfterMs ?? 10_000)) this.backoff.reset();

    if (code === 4001) {
      this.setStatus({ state: 'reconnecting', attempt: 0, retryAt: Date.now(), reason: 'session renewal' });
      const refresh = this.opts.onTokenExpired ?? (() => Promise.resolve(true));
      refresh().then(
        (ok) => {
          if (!this.running || this.offline) return;
          if (ok) void this.connect();
          else this.stop('session expired');
        },
        () => this.schedule(this.backoff.next(), 'session renewal failed'),
      );
      return;
    }
    if (code === 1001) {
      // Server going away (drain): another gateway takes us, so come back soon.
      this.backoff.reset();
      const r = (this.opts.random ?? Math.random)();
      this.schedule(250 + Math.round(r * 750), 'server restarting');
      return;
    }
    if (code === 1008) {
      this.schedule(Math.max(5_000, this.backoff.next()), 'closed by policy');
      return;
    }
    this.schedule(this.backoff.next(), wasOpen ? 'connection lost' : 'cannot reach server');
  }

  private schedule(delay: number, reason: string): void {
    if (!this.running || this.offline) return;
    this.clearTimers();
    this.setStatus({
      state: 'reconnecting',
      attempt: this.backoff.attempts,
      retryAt: Date.now() + delay,
      reason,
    });
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }
}
