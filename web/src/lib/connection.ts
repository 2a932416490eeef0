// Builds the chat WebSocket: same-origin ws(s)://host/ws?token=JWT, a fresh
// token for every try, detection of a refused (401) upgrade, and token renewal
// on close code 4001.

import { ApiError } from './api';
import type { AuthStore } from './auth';
import { ReconnectingSocket, type ConnState } from './socket';

export interface ChatClientOptions {
  WebSocketImpl?: new (url: string) => WebSocket;
  wsUrl?: (token: string) => string;
  storage?: Storage;
}

export function defaultWsUrl(token: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws?token=${encodeURIComponent(token)}`;
}

export interface SocketHandlers {
  onStatus: (s: ConnState) => void;
  onOpen: () => void;
  onFrame: (data: unknown) => void;
}

export function createChatSocket(auth: AuthStore, opts: ChatClientOptions, h: SocketHandlers): ReconnectingSocket {
  const wsUrl = opts.wsUrl ?? defaultWsUrl;
  return new ReconnectingSocket({
    WebSocketImpl: opts.WebSocketImpl,
    isOnline: () => (typeof navigator === 'undefined' ? true : navigator.onLine !== false),
    getUrl: async (ctx) => {
      if (!auth.current) return null;
      if (ctx.failedBeforeOpen && ctx.attempt >= 1) {
        // A browser cannot see why an upgrade failed; the REST API tells us if it was a 401.
        try {
          await auth.api.me();
        } catch (e) {
          if (e instanceof ApiError && e.status === 401) return null;
        }
      }
      const token = await auth.freshToken();
      return token ? wsUrl(token) : null;
    },
    onTokenExpired: async () => {
      const ok = await auth.refresh();
      if (ok) return true;
      if (auth.current) throw new Error('refresh failed, will retry');
      return false;
    },
    onStatus: h.onStatus,
    onOpen: h.onOpen,
    onFrame: h.onFrame,
  });
}
