export { personaAuthRoute as GET, personaAuthRoute as POST } from '#lib/interaction/next-auth-route';
