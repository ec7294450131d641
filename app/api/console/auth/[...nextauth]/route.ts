// The console's own next-auth route: its own session cookie, so a persona sign-in for an app launch
// does not sign the instructor out of the console.
export { consoleAuthRoute as GET, consoleAuthRoute as POST } from '#lib/console/auth';
