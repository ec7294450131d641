/** Base path of the console's next-auth route (mirrors CONSOLE_AUTH_BASE_PATH in lib/console/auth.ts, which client code cannot import). */
export const CONSOLE_AUTH_PATH = '/api/console/auth';
