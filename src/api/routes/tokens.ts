/** /tokens: the API tokens, listed without their secrets, and revoked (admin only). */
import { z } from 'zod';
import { ApiTokenViewSchema, ApiTokensResponseSchema, TokenIdSchema } from '../../domain/schemas';
import { NotFoundError } from '../../operations/errors';
import { listTokens, revokeToken } from '../../operations/tokens';
import type { ApiDeps } from '../deps';
import { json, RouteTable } from '../route';

const TokenParams = z.object({ id: TokenIdSchema.meta({ description: 'The token id (from GET /tokens)' }) });

export const tokensRoutes = new RouteTable<Pick<ApiDeps, 'operations'>>('tokens');

tokensRoutes.get(
  '/api/v1/tokens',
  {
    summary: 'API tokens',
    description:
      'Every token, revoked ones included, oldest first: id, name, role, source, created, last used, revoked. Never the secret: only its hash is stored.',
    access: 'admin',
    status: 200,
    success: { description: 'The tokens', content: json(ApiTokensResponseSchema) },
  },
  async (_req, res, deps) => {
    res.json({ tokens: await listTokens(deps.operations.orm.em.fork()) });
  },
);

tokensRoutes.delete(
  '/api/v1/tokens/{id}',
  {
    summary: 'Revoke an API token',
    description:
      'The token is refused (401) from the next request on and stays listed with `revoked_at`. Revoking it again answers the same. The last valid admin token cannot be revoked.',
    access: 'admin',
    request: { params: TokenParams },
    status: 200,
    success: { description: 'The token, revoked', content: json(ApiTokenViewSchema) },
    errors: [404, 409],
    errorDescriptions: { 404: 'No such token', 409: 'It is the last valid admin token (`last_admin_token`)' },
  },
  async (req, res, deps) => {
    const raw = String(req.params.id);
    const id = TokenIdSchema.safeParse(raw);
    if (!id.success) throw new NotFoundError(`API token "${raw}" does not exist (not a token id)`);
    res.json(await revokeToken(deps.operations.orm.em.fork(), id.data));
  },
);
