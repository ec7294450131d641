import { describe, expect, it } from 'vitest';
import { lockedSignInMessage } from './sign-in-limit';

describe('sign-in lockout messages', () => {
  it('tell the person what is locked and for how long, and say nothing for a plain wrong password', () => {
    expect(lockedSignInMessage('locked-persona', '130')).toMatch(/this user.*about 3 minutes, even with the right password/);
    expect(lockedSignInMessage('locked-ip', 'junk')).toMatch(/network address.*about 1 minute,/);
    expect(lockedSignInMessage('credentials', '130')).toBeNull();
  });
});
