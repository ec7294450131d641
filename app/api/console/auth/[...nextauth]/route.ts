import NextAuth from 'next-auth';
import { applyRouteSecurityHeaders } from '#lib/http/security-headers';
import { getConsoleAuthOptions } from '#lib/console/auth';

type Context = { params: Promise<{ nextauth: string[] }> };

// The console's own next-auth route: its own session cookie, so a persona sign-in for an app launch
// does not sign the instructor out of the console. Options per request (the secret may come from the database).
async function handler(req: Request, ctx: Context): Promise<Response> {
  const response = await (NextAuth as unknown as (req: Request, ctx: Context, options: unknown) => Promise<Response>)(req, ctx, await getConsoleAuthOptions());
  return applyRouteSecurityHeaders(response, 'auth-page');
}

export { handler as GET, handler as POST };
