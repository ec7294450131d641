/**
 * A flow as teaching material: a runnable shell transcript of curl commands (the requests the app
 * made, as the audit trail recorded them, with the responses as comments) and a Postman collection
 * v2.1. Only what the audit trail and the flow's own rows hold goes in; credentials are variables
 * left to fill in. On request, the flow's own access token is included while it is still valid:
 * nothing else secret ever is (codes, refresh tokens and client secrets are stored only hashed, the
 * PKCE verifier only masked, and no other flow's token is read).
 */
import { getDb } from '../db';
import { currentSandbox, sandboxNow } from '../sandbox/context';
import type { FlowDocument } from './flow-events';
import type { FlowStep } from './flows';

export interface ExportOptions {
  /** Origin of the sandbox, e.g. http://localhost:3000. */
  readonly origin: string;
  /** Path of its FHIR base on that origin (default /fhir). */
  readonly fhirPath?: string;
  /** Include the flow's access token when it is still valid (not expired, not revoked). */
  readonly includeTokens?: boolean;
  readonly now?: Date;
}

/** The credentials an export names as variables: placeholders, or the flow's own live access token. */
export interface ExportCredentials {
  readonly accessToken: string | null;
  readonly accessTokenId: string | null;
}

const REDACTED = '<redacted>';

/** The newest access token of the flow that is still valid, when asked for; never another flow's. */
export async function exportCredentials(flow: FlowDocument, options: ExportOptions): Promise<ExportCredentials> {
  if (!options.includeTokens) return { accessToken: null, accessTokenId: null };
  // The sandbox's own clock decides what is still valid (issue 15 item 7), and only its tokens are read.
  const now = options.now ?? sandboxNow();
  const db = getDb();
  const isLive = { sandboxId: currentSandbox().id, kind: 'access', revoked: false, expiresAt: { gt: now }, jwt: { not: null } } as const;
  // The tokens the flow's own token requests issued, newest last (the audit trail records each one's id).
  const issued = flow.steps.flatMap((s) => (s.kind !== 'fhir' && s.kind !== 'token-response' && s.request?.tokenId ? [s.request.tokenId] : []));
  if (issued.length) {
    const rows = await db.token.findMany({ where: { id: { in: issued }, ...isLive } });
    const found = [...issued]
      .reverse()
      .map((id) => rows.find((r) => r.id === id))
      .find((r) => r !== undefined);
    return found?.jwt ? { accessToken: found.jwt, accessTokenId: found.id } : { accessToken: null, accessTokenId: null };
  }
  // Records older than the recorded token ids: the grant's newest live token.
  if (flow.kind !== 'launch' || !flow.grantId) return { accessToken: null, accessTokenId: null };
  const live = await db.token.findFirst({ where: { grantId: flow.grantId, ...isLive }, orderBy: { issuedAt: 'desc' } });
  return live?.jwt ? { accessToken: live.jwt, accessTokenId: live.id } : { accessToken: null, accessTokenId: null };
}

/** A value in single quotes for a POSIX shell. */
function sh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** One line per comment line, each starting with `# `. */
function comment(text: string): string {
  return text
    .split('\n')
    .map((l) => `# ${l}`.trimEnd())
    .join('\n');
}

/** What the response was, as far as the audit trail recorded it. */
function responseLine(s: FlowStep): string {
  const r = s.response;
  if (!r) return '';
  const parts = [`HTTP ${r.status}`];
  if (r.errorCode) parts.push(`error=${r.errorCode}`);
  if (r.resultCount !== null) parts.push(`${r.resultCount} result(s)`);
  return `→ ${parts.join(', ')}${r.detail ? `: ${r.detail}` : ''}`;
}

function tokenResponseJson(s: FlowStep, creds: ExportCredentials): string | null {
  if (!s.tokenResponse) return null;
  const body: Record<string, string | number> = {};
  body.access_token = creds.accessToken && s.tokenResponse.claims.jti === creds.accessTokenId ? creds.accessToken : REDACTED;
  for (const p of s.tokenResponse.extras) {
    if (p.name === 'access token status now') continue;
    if (p.name === 'refresh_token' || p.name === 'id_token') body[p.name] = REDACTED;
    else body[p.name] = /^\d+$/.test(p.value) ? Number(p.value) : p.value;
  }
  return JSON.stringify(body, null, 2);
}

/** A command of the transcript: how the step's request is replayed. */
interface Replay {
  readonly method: string;
  /** Path and query on the origin. */
  readonly path: string;
  readonly headers: readonly [string, string][];
  /** application/x-www-form-urlencoded fields; values naming $VARIABLES are left unquoted in the shell. */
  readonly form: readonly [string, string][] | null;
  /** The step is made by the browser, not by the app's code. */
  readonly browser: boolean;
}

function replayOf(s: FlowStep, flow: FlowDocument): Replay | null {
  const req = s.request;
  if (!req || s.kind === 'token-response') return null;
  if (req.path === '/oauth/authorize') {
    // Records older than the kept parameters: the values the flow rebuilt from the code's row.
    const known = s.params.filter((p) => !p.value.startsWith('(') && p.value !== '—').map((p): [string, string] => [p.name, p.value]);
    const q = new URLSearchParams(req.query ?? Object.fromEntries(known));
    q.set('state', '$STATE');
    return { method: 'GET', path: `/oauth/authorize?${q.toString().replace('state=%24STATE', 'state=$STATE')}`, headers: [], form: null, browser: true };
  }
  if (req.path.startsWith('/interaction/')) return null;
  if (req.path === '/oauth/token') {
    const form: [string, string][] = [['grant_type', req.grantType ?? '$GRANT_TYPE']];
    const headers: [string, string][] = [['Content-Type', 'application/x-www-form-urlencoded']];
    if (req.grantType === 'authorization_code') {
      form.push(['code', '$CODE']);
      const redirect = flow.grantFlow?.steps.find((x) => x.kind === 'code')?.params.find((p) => p.name === 'redirect_uri')?.value;
      form.push(['redirect_uri', redirect ?? '$REDIRECT_URI']);
      form.push(['code_verifier', '$CODE_VERIFIER']);
    } else if (req.grantType === 'refresh_token') {
      form.push(['refresh_token', '$REFRESH_TOKEN']);
    } else if (req.grantType === 'client_credentials') {
      const scope = s.params.find((p) => p.name === 'scope')?.value;
      if (scope) form.push(['scope', scope]);
    }
    if (req.authMethod === 'private_key_jwt') {
      form.push(['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer']);
      form.push(['client_assertion', '$CLIENT_ASSERTION']);
    } else if (req.authMethod === 'client_secret_basic') {
      headers.push(['Authorization', 'Basic $CLIENT_BASIC']);
    } else if (req.authMethod === 'client_secret_post') {
      form.push(['client_id', flow.clientId ?? '$CLIENT_ID'], ['client_secret', '$CLIENT_SECRET']);
    } else {
      form.push(['client_id', flow.clientId ?? '$CLIENT_ID']);
    }
    return { method: 'POST', path: '/oauth/token', headers, form, browser: false };
  }
  if (s.kind === 'fhir') {
    const headers: [string, string][] = [['Authorization', 'Bearer $ACCESS_TOKEN']];
    if (req.accept) headers.push(['Accept', req.accept]);
    return { method: req.method, path: req.path, headers, form: null, browser: false };
  }
  if (req.path === '/oauth/revoke' || req.path === '/oauth/introspect') {
    return {
      method: 'POST',
      path: req.path,
      headers: [['Content-Type', 'application/x-www-form-urlencoded']],
      form: [
        ['token', '$ACCESS_TOKEN'],
        ['client_id', flow.clientId ?? '$CLIENT_ID'],
      ],
      browser: false,
    };
  }
  return null;
}

/** A shell word: $VARIABLES expand, everything else is quoted. */
function shWord(value: string): string {
  if (!value.includes('$')) return sh(value);
  // Double quotes let $NAME expand; escape what double quotes would otherwise interpret.
  return `"${value.replace(/["\\`]/g, '\\$&').replace(/\$(?![A-Z_]+)/g, '\\$')}"`;
}

/** The flow as a runnable POSIX shell script of curl commands, responses as comments. */
export function curlTranscript(flow: FlowDocument, creds: ExportCredentials, options: ExportOptions): string {
  const lines: string[] = [];
  lines.push('#!/bin/sh');
  lines.push(comment(`SMART Sandbox flow ${flow.id}: ${flow.title}`));
  lines.push(comment(`Recorded ${flow.at.toISOString()}; client ${flow.clientId ?? 'unknown'}, user ${flow.userId ?? '—'}, patient ${flow.patientId ?? '—'}.`));
  lines.push(
    comment(
      'Each command is a request the audit trail recorded; the response it got follows as comments.\nCredentials are variables: set them before running (the server never stores codes, refresh tokens,\nverifiers or secrets in the clear, so they cannot be exported).',
    ),
  );
  if (flow.failure)
    lines.push(
      comment(`\nThis flow failed at "${flow.failure.rule.title}" (${flow.failure.rule.spec}).\nWhat the app should do instead: ${flow.failure.rule.advice}`),
    );
  lines.push('set -u');
  lines.push(`BASE=${sh(options.origin)}`);
  lines.push(`ACCESS_TOKEN=\${ACCESS_TOKEN:-${sh(creds.accessToken ?? REDACTED)}}`);
  for (const v of ['STATE', 'CODE', 'CODE_VERIFIER', 'REFRESH_TOKEN', 'CLIENT_ASSERTION', 'CLIENT_SECRET', 'CLIENT_BASIC'])
    lines.push(`${v}=\${${v}:-${sh(REDACTED)}}`);
  lines.push('');
  let n = 0;
  for (const s of flow.steps) {
    n++;
    lines.push(comment(`${n}. ${s.title}${s.at ? ` (${s.at.toISOString()})` : ''}`));
    lines.push(comment(s.summary));
    if (s.rule) lines.push(comment(`Refused by: ${s.rule.title} (${s.rule.spec})\nInstead: ${s.rule.advice}`));
    const replay = replayOf(s, flow);
    if (replay) {
      const parts = ['curl', '-sS', '-i'];
      if (replay.method !== 'GET' && !replay.form) parts.push('-X', replay.method);
      for (const [k, v] of replay.headers) parts.push('-H', shWord(`${k}: ${v}`));
      for (const [k, v] of replay.form ?? []) parts.push('--data-urlencode', shWord(`${k}=${v}`));
      if (replay.method !== 'GET' && replay.method !== 'DELETE' && !replay.form && s.kind === 'fhir')
        parts.push('-H', sh('Content-Type: application/fhir+json'), '--data', sh('@resource.json'));
      parts.push(shWord(`$BASE${replay.path}`));
      if (replay.browser) lines.push(comment('The app sends the browser here; with curl you see the redirect it answers:'));
      if (replay.method !== 'GET' && replay.method !== 'DELETE' && !replay.form && s.kind === 'fhir')
        lines.push(comment('The request body is not recorded: put the resource in resource.json.'));
      lines.push(parts.join(' '));
    }
    const answer = responseLine(s);
    if (answer) lines.push(comment(answer));
    const json = tokenResponseJson(s, creds);
    if (json) lines.push(comment(json));
    if (s.decision) lines.push(comment(`Access decision: ${s.decision.verdict}: ${s.decision.summary}`));
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

interface PostmanKeyValue {
  key: string;
  value: string;
  type?: string;
}

/** The flow as a Postman collection (schema v2.1.0), one item per request, the recorded response as its example. */
export function postmanCollection(flow: FlowDocument, creds: ExportCredentials, options: ExportOptions): Record<string, unknown> {
  const variables: PostmanKeyValue[] = [
    { key: 'baseUrl', value: options.origin },
    { key: 'access_token', value: creds.accessToken ?? REDACTED },
    ...['state', 'code', 'code_verifier', 'refresh_token', 'client_assertion', 'client_secret', 'client_basic'].map((key) => ({ key, value: REDACTED })),
  ];
  const toPostman = (text: string) => text.replace(/\$([A-Z_]+)/g, (_, name: string) => `{{${name.toLowerCase()}}}`).replace('{{base}}', '{{baseUrl}}');
  const items = flow.steps.flatMap((s, i) => {
    const replay = replayOf(s, flow);
    if (!replay) return [];
    const url = new URL(replay.path, 'http://placeholder.invalid');
    const raw = toPostman(`$BASE${replay.path}`);
    const request: Record<string, unknown> = {
      method: replay.method,
      header: replay.headers.map(([key, value]) => ({ key, value: toPostman(value) })),
      url: {
        raw,
        host: ['{{baseUrl}}'],
        path: url.pathname.split('/').filter((p) => p !== ''),
        ...(url.search ? { query: [...url.searchParams].map(([key, value]) => ({ key, value: toPostman(value) })) } : {}),
      },
      description: [s.summary, s.rule ? `Refused by: ${s.rule.title} (${s.rule.spec}). Instead: ${s.rule.advice}` : ''].filter(Boolean).join('\n\n'),
    };
    if (replay.form) request.body = { mode: 'urlencoded', urlencoded: replay.form.map(([key, value]) => ({ key, value: toPostman(value), type: 'text' })) };
    const json = tokenResponseJson(s, creds);
    const response = s.response
      ? [
          {
            name: `Recorded response (${s.response.status})`,
            originalRequest: request,
            code: s.response.status,
            header: [],
            body:
              json ??
              JSON.stringify({ status: s.response.status, error: s.response.errorCode, detail: s.response.detail, results: s.response.resultCount }, null, 2),
          },
        ]
      : [];
    return [{ name: `${i + 1}. ${s.title}`, request, response }];
  });
  return {
    info: {
      name: `SMART Sandbox flow: ${flow.title}`,
      description: `Recorded ${flow.at.toISOString()} (flow ${flow.id}). Credentials are collection variables: fill them in to replay.${
        flow.failure ? `\n\nFailed at "${flow.failure.rule.title}" (${flow.failure.rule.spec}). Instead: ${flow.failure.rule.advice}` : ''
      }`,
      schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    },
    variable: variables,
    item: items,
  };
}
