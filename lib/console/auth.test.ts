import { describe, expect, it } from 'vitest';
import { consoleAccountMode, verifyConsoleCredentials } from './auth';

describe('console account rule', () => {
  it('offers admin/admin in development on localhost with nothing configured', () => {
    const mode = consoleAccountMode({ nodeEnv: 'development', loopback: true });
    expect(mode).toMatchObject({ kind: 'development', user: 'admin', password: 'admin' });
    expect(verifyConsoleCredentials(mode, 'admin', 'admin')).toEqual({ user: 'admin', account: 'development' });
    expect(verifyConsoleCredentials(mode, 'admin', 'wrong')).toBeNull();
  });

  it('refuses the default account in production mode', () => {
    const mode = consoleAccountMode({ nodeEnv: 'production', loopback: true });
    expect(mode.kind).toBe('unavailable');
    expect(verifyConsoleCredentials(mode, 'admin', 'admin')).toBeNull();
  });

  it('refuses the default account when reached through a non-loopback host', () => {
    const mode = consoleAccountMode({ nodeEnv: 'development', loopback: false });
    expect(mode.kind).toBe('unavailable');
    expect(verifyConsoleCredentials(mode, 'admin', 'admin')).toBeNull();
  });

  it('requires both CONSOLE_USER and CONSOLE_PASSWORD', () => {
    expect(consoleAccountMode({ nodeEnv: 'development', loopback: true, configuredUser: 'teacher' }).kind).toBe('unavailable');
  });

  it('with a configured account, accepts only it — never admin/admin, even configured as such', () => {
    const mode = consoleAccountMode({ nodeEnv: 'production', loopback: false, configuredUser: 'admin', configuredPassword: 'admin' });
    expect(mode.kind).toBe('configured');
    expect(verifyConsoleCredentials(mode, 'admin', 'admin')).toBeNull();
  });
});
