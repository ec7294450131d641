import { describe, expect, it } from 'vitest';
import { InvalidRequest, toErrorResponse, UnsafeToRedirect } from './errors';

const HOSTILE = `x'"><script>alert(1)</script><a href=//evil.example>`;
const ESCAPED = 'x&#x27;&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;a href=//evil.example&gt;';

describe('the /oauth/authorize error page', () => {
  it('shows the request values an attacker chose (client_id, redirect_uri) as text', async () => {
    for (const err of [
      new InvalidRequest(`No client is registered with client_id '${HOSTILE}'.`),
      new UnsafeToRedirect(HOSTILE, `redirect_uri '${HOSTILE}' does not match`),
    ]) {
      const { response } = toErrorResponse(err, { kind: 'page' });
      const body = await response.text();
      expect(response.status).toBe(400);
      expect(body).toMatch(/^<!doctype html>\n<html lang="en">/);
      expect(body).not.toMatch(/<script|<a /i);
      expect(body).toContain(`&#x27;${ESCAPED}&#x27;`);
    }
  });
});
