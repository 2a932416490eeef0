// Room URLs: /room/<id> for rooms and /dm/<id> for direct messages (lighttpd and the
// Vite dev server serve index.html for any such path). Pure helpers, unit-tested.

export type Route = { kind: 'home' } | { kind: 'room'; roomId: string };

const ID = /^[0-9a-f]{24}$/;

/** Reads a location pathname; anything unknown is home. */
export function parseRoute(pathname: string): Route {
  const m = /^\/(room|dm)\/([^/]+)\/?$/.exec(pathname);
  if (m) {
    let id = '';
    try {
      id = decodeURIComponent(m[2]);
    } catch {
      /* malformed escape */
    }
    if (ID.test(id)) return { kind: 'room', roomId: id };
  }
  return { kind: 'home' };
}

/** The path of a room, or of home when roomId is null. */
export function roomPath(roomId: string | null, isDm = false): string {
  if (!roomId) return '/';
  return `/${isDm ? 'dm' : 'room'}/${encodeURIComponent(roomId)}`;
}

/** The room a route names, if any. */
export function routeRoomId(r: Route): string | null {
  return r.kind === 'room' ? r.roomId : null;
}
