/** A minimal client-side router over the History API (the app's few routes do not need a library). */
import { useEffect, useState } from 'react';

const EVENT = 'admin-app:navigate';

/**
 * Opens an app path without reloading.
 * @param to - the path (starting with /admin/)
 */
export function navigate(to: string): void {
  window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(EVENT));
}

/**
 * Replaces the current history entry (after the sign-in callback).
 * @param to - the path
 */
export function replace(to: string): void {
  window.history.replaceState(null, '', to);
  window.dispatchEvent(new Event(EVENT));
}

/** The current path and query, re-rendering on navigation. */
export function useLocation(): { path: string; search: string } {
  const read = () => ({ path: window.location.pathname, search: window.location.search });
  const [location, setLocation] = useState(read);
  useEffect(() => {
    const update = () => setLocation(read());
    window.addEventListener('popstate', update);
    window.addEventListener(EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return location;
}

/** The project a page belongs to: `/admin/p/{tenant}/{project}/…`; without it, the server's bootstrap project. */
export interface ProjectRef {
  tenant: string;
  project: string;
}

const PROJECT_PREFIX = /^\/admin\/p\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+)(?=\/|$)/;

/**
 * The project named by a path, if any.
 * @param path - the location's path
 * @returns the project, or undefined for the bootstrap project
 */
export function projectOf(path: string): ProjectRef | undefined {
  const match = PROJECT_PREFIX.exec(path);
  return match ? { tenant: match[1] as string, project: match[2] as string } : undefined;
}

let prefix = '/admin';

/**
 * Sets the project the app's links point into (once, at start: a page load manages one project).
 * @param project - the project, or undefined for the bootstrap project
 */
export function setProjectPrefix(project: ProjectRef | undefined): void {
  prefix = project ? `/admin/p/${project.tenant}/${project.project}` : '/admin';
}

/**
 * An app path in the current project.
 * @param rest - the path after the project (`r/Patient`, `playground`, '' for the home page)
 * @returns the path
 */
export function appPath(rest: string): string {
  return `${prefix}/${rest}`;
}

/** A matched route: the page and its parameters. */
export type Route =
  | { page: 'home' }
  | { page: 'search'; type: string }
  | { page: 'new'; type: string }
  | { page: 'resource'; type: string; id: string; tab?: string }
  | { page: 'playground' }
  | { page: 'audit' }
  | { page: 'callback' }
  | { page: 'not-found' };

/**
 * The route of a path.
 * @param path - the location's path
 * @returns the route
 */
export function matchRoute(path: string): Route {
  const rest = path.replace(PROJECT_PREFIX, '/admin').replace(/^\/admin\/?/, '');
  const parts = rest.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  if (parts.length === 0) return { page: 'home' };
  if (parts[0] === 'callback') return { page: 'callback' };
  if (parts[0] === 'playground') return { page: 'playground' };
  if (parts[0] === 'audit') return { page: 'audit' };
  if (parts[0] === 'r' && parts[1] && /^[A-Z][A-Za-z]+$/.test(parts[1])) {
    if (parts.length === 2) return { page: 'search', type: parts[1] };
    if (parts[2] === '_new' && parts.length === 3) return { page: 'new', type: parts[1] };
    if (parts[2] && parts.length <= 4) return { page: 'resource', type: parts[1], id: parts[2], tab: parts[3] };
  }
  return { page: 'not-found' };
}

/** The app path of a resource type, resource or tab. */
export function pathOf(type: string, id?: string, tab?: string): string {
  return appPath(`r/${type}${id ? `/${encodeURIComponent(id)}` : ''}${tab ? `/${tab}` : ''}`);
}
