/**
 * Security events of the sign-in and consent pages (docs/audit.md): who signed in or failed to, who granted or
 * denied an app access. Identifiers only: never the email typed, a password, a code or a cookie.
 */
import type { Request } from 'express';
import type { Caller, SecurityEventName } from '../../audit/events';
import type { InteractionContext } from './context';

/** What an interaction event names. */
export interface InteractionEventFields {
  clientId?: string;
  userId?: string;
  /** The patient of the launch context, when there is one. */
  launch?: Record<string, unknown>;
  status: number;
  /** Server-written reason (`invalid`, `inactive user`, scopes allowed). */
  detail?: string;
  entities?: Array<{ reference?: string; name: string; value?: string }>;
}

/**
 * Records one sign-in or consent event.
 * @param ctx - the interaction context (project, listener)
 * @param req - the request (client address)
 * @param name - the event
 * @param fields - who and how it ended
 */
export function recordInteractionEvent(ctx: InteractionContext, req: Request, name: SecurityEventName, fields: InteractionEventFields): void {
  const caller: Caller = { project: ctx.project.key };
  if (fields.clientId) caller.clientId = fields.clientId;
  if (fields.userId) caller.userId = fields.userId;
  const patient = fields.launch?.patient;
  if (typeof patient === 'string') caller.patient = patient;
  if (req.ip) caller.ip = req.ip;
  const ok = fields.status < 400;
  ctx.deps.audit.record({
    kind: 'security',
    name,
    at: Date.now(),
    caller,
    outcome: { status: fields.status, decision: ok ? 'permitted' : 'refused', ...(fields.detail ? { detail: fields.detail } : {}) },
    ...(fields.entities ? { entities: fields.entities } : {}),
  });
}
