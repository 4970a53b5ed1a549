/**
 * Request values of Sync Streams (reference §2.2): `auth.parameters()` = the JWT payload,
 * `connection.parameters()` = the request's client parameters, `subscription.parameters()` =
 * the subscription's parameters (NULL for the implicit subscription of a default stream).
 */
import { RequestContext, toJsonText } from '../request-context.ts';
import type { RequestParameters } from '../types.ts';

export class StreamRequestContext extends RequestContext {
  /** JSON text of the subscription parameters, or null for a default (implicit) subscription. */
  readonly subscriptionJson: string | null;

  constructor(request: RequestParameters, subscription: Record<string, unknown> | null) {
    super(request);
    this.subscriptionJson = subscription === null ? null : toJsonText(subscription);
  }
}
