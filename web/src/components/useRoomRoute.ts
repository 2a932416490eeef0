// Keeps the URL and the open room in step: /room/<id> or /dm/<id> opens that room
// (after the rooms are loaded, so also right after logging in), clicking a room pushes
// its URL, back/forward reopen rooms. A public room we have not joined is offered to
// join; an unknown or hidden one brings a notice and home.
import { useEffect, useRef, useState } from 'react';
import type { ChatClient } from '../lib/chatClient';
import { parseRoute, roomPath, routeRoomId } from '../lib/route';
import type { Room } from '../lib/types';

function urlRoomId(): string | null {
  return typeof location === 'undefined' ? null : routeRoomId(parseRoute(location.pathname));
}

/** Returns the public room the URL names that we may join (shown instead of the welcome page). */
export function useRoomRoute(client: ChatClient): Room | null {
  const [target, setTarget] = useState<string | null>(urlRoomId);
  const [preview, setPreview] = useState<Room | null>(null);
  const fetched = useRef(new Set<string>());
  const prevActive = useRef<string | null>(client.activeRoomId);
  const active = client.activeRoomId;
  const { loading } = client;

  useEffect(() => {
    const onPop = () => setTarget(urlRoomId());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  useEffect(() => {
    const activeChanged = prevActive.current !== active;
    prevActive.current = active;
    // The user opened, left or lost a room: the URL follows.
    if (activeChanged && active !== target) {
      if (active === null) {
        if (target && !preview) {
          history.replaceState(null, '', '/');
          setTarget(null);
        }
        return;
      }
      const room = client.dir.rooms.get(active);
      history.pushState(null, '', roomPath(active, !!room && client.dir.isDm(room)));
      setTarget(active);
      return;
    }
    // The URL (first load, back/forward) names a room: open it once we know it.
    if (target === active) {
      setPreview(null);
      return;
    }
    if (target === null) {
      setPreview(null);
      client.openRoom(null);
      return;
    }
    if (loading) return;
    const room = client.dir.rooms.get(target);
    if (room && client.dir.isMember(room)) {
      setPreview(null);
      client.openRoom(target);
      return;
    }
    if (room && !room.is_private) {
      setPreview(room);
      if (active) client.openRoom(null);
      return;
    }
    if (fetched.current.has(target)) return;
    fetched.current.add(target);
    void client.fetchRoom(target).then((r) => {
      if (r) return; // now in the directory: this effect runs again and opens or offers it
      client.showNotice('That room does not exist, or you are not a member of it.');
      history.replaceState(null, '', '/');
      setTarget(null);
    });
  }, [target, active, preview, loading, client, client.version]);

  return preview && preview.id === target ? preview : null;
}
