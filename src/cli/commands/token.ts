/** `decnet token list` and `decnet token revoke <id>`: the API tokens over the API (admin), never their secrets. */
import type { Command } from 'commander';
import type { ApiTokenView } from '../../domain/schemas';
import { createApiClient } from '../api-client';
import { action, formatTable, printJson, processIo, type Io } from '../output';

export interface TokenListOptions {
  json?: boolean;
}

export function formatTokens(tokens: ApiTokenView[]): string {
  return formatTable(
    ['ID', 'ROLE', 'NAME', 'SOURCE', 'CREATED', 'LAST USED', 'REVOKED'],
    tokens.map((t) => [t.id, t.role, t.name, t.source, t.created_at, t.last_used_at ?? '-', t.revoked_at ?? '-']),
  );
}

export async function runTokenList(opts: TokenListOptions, io: Io = processIo()): Promise<number> {
  const tokens = await createApiClient().tokens();
  if (opts.json) printJson(io, { tokens });
  else io.stdout.write(formatTokens(tokens));
  return 0;
}

export async function runTokenRevoke(id: string, opts: TokenListOptions, io: Io = processIo()): Promise<number> {
  const token = await createApiClient().revokeToken(id);
  if (opts.json) printJson(io, token);
  else io.stdout.write(`revoked ${token.role} token ${token.id} (${token.name}) at ${token.revoked_at}\n`);
  return 0;
}

/** Adds `list` and `revoke` to the `decnet token` command. */
export function registerTokenCommands(token: Command): void {
  token
    .command('list')
    .description('the API tokens: id, role, name, source, created, last used, revoked (never the secrets); admin')
    .option('--json', "print the API's answer as JSON")
    .action(action((opts: TokenListOptions) => runTokenList(opts)));
  token
    .command('revoke')
    .description('revoke an API token by id (from `decnet token list`): refused from the next request on; admin')
    .argument('<id>', 'the token id')
    .option('--json', "print the API's answer as JSON")
    .action(action((id: string, opts: TokenListOptions) => runTokenRevoke(id, opts)));
}
