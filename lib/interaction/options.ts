import type { NextAuthOptions } from 'next-auth';
import CredentialsProvider from 'next-auth/providers/credentials';
import { currentSandbox } from '../sandbox/context';
import { attemptSignIn } from './sign-in-limit';
import { endSignIn } from './interaction-port';
import { getAuthSecret } from './secret';
import { SESSION_MAX_AGE_SECONDS, sessionClaims, useSecureCookies } from './session';

/** next-auth provider id of the sandbox personas. */
export const PERSONA_PROVIDER_ID = 'persona';

/**
 * next-auth options: sandbox personas through a Credentials provider, JWT sessions carrying
 * `fhirUser` and a per-sign-in `sid`. The interaction screens sign personas in with the same
 * cookie format (lib/interaction/session.ts), so both paths produce one kind of session.
 */
export async function getAuthOptions(): Promise<NextAuthOptions> {
  return {
    secret: await getAuthSecret(),
    useSecureCookies: useSecureCookies(),
    session: { strategy: 'jwt', maxAge: SESSION_MAX_AGE_SECONDS },
    providers: [
      CredentialsProvider({
        id: PERSONA_PROVIDER_ID,
        name: 'Sandbox persona',
        credentials: {
          username: { label: 'Username', type: 'text', placeholder: 'first.last' },
          password: { label: 'Password', type: 'password' },
        },
        async authorize(credentials, req) {
          const attempt = await attemptSignIn({
            sandboxId: currentSandbox().id,
            username: credentials?.username ?? '',
            password: credentials?.password ?? '',
            headers: req.headers ?? {},
            audit: { endpoint: `/api/auth/callback/${PERSONA_PROVIDER_ID}`, failureStatus: 401 },
          });
          // next-auth shows a thrown error's message on its sign-in error page.
          if (attempt.kind === 'locked') throw new Error(attempt.message);
          return attempt.kind === 'signed-in' ? { id: attempt.persona.fhirUser, name: attempt.persona.name } : null;
        },
      }),
    ],
    events: {
      // next-auth's sign-out ends the persona's sign-in like the interaction screens' sign-out does (docs/CONFORMANCE.md #83).
      async signOut({ token }) {
        if (typeof token?.sid === 'string' && token.sid) await endSignIn(token.sid);
      },
    },
    callbacks: {
      async jwt({ token, user }) {
        if (!user) return token;
        const claims = sessionClaims({
          kind: user.id.startsWith('Practitioner/') ? 'practitioner' : 'patient',
          id: user.id.split('/')[1] ?? '',
          fhirUser: user.id as `Patient/${string}`,
          name: user.name ?? user.id,
          username: '',
          detail: '',
        });
        return { ...token, ...claims };
      },
      async session({ session, token }) {
        return { ...session, user: { ...session.user, name: token.name, fhirUser: token.fhirUser, personaKind: token.personaKind } } as typeof session;
      },
    },
  };
}
