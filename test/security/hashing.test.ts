import { generateSecret, hashPassword, hashSecret, passwordHashCost, usePasswordHashCost, verifyPassword, verifySecret } from '../../src/security/hashing';

describe('password hashing', () => {
  it('hashes with scrypt and a random salt, verifying only the right password', async () => {
    const a = await hashPassword('s3cret pass');
    const b = await hashPassword('s3cret pass');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('s3cret pass', a)).toBe(true);
    expect(await verifyPassword('s3cret pasS', a)).toBe(false);
    expect(await verifyPassword('s3cret pass', 'sha256$x$y')).toBe(false);
    expect(await verifyPassword('s3cret pass', 'scrypt$0$0$0$$')).toBe(false);
  });

  it('makes new hashes at the configured cost, and hashes made at another cost still verify', async () => {
    expect(passwordHashCost()).toBe(15);
    const before = await hashPassword('s3cret pass');
    usePasswordHashCost(11);
    try {
      const after = await hashPassword('s3cret pass');
      expect(after).toMatch(/^scrypt\$2048\$8\$1\$/);
      expect(await verifyPassword('s3cret pass', after)).toBe(true);
      expect(await verifyPassword('s3cret pass', before)).toBe(true);
      expect(await verifyPassword('other pass', before)).toBe(false);
    } finally {
      usePasswordHashCost(15);
    }
    expect(() => usePasswordHashCost(0)).toThrow(RangeError);
    expect(() => usePasswordHashCost(15.5)).toThrow(RangeError);
  });
});

describe('client secret hashing', () => {
  it('hashes with salted SHA-256 and verifies in constant time', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^[\w-]{43}$/);
    const hash = hashSecret(secret);
    expect(hash).toMatch(/^sha256\$[\w-]{22}\$[\w-]{43}$/);
    expect(hashSecret(secret)).not.toBe(hash);
    expect(verifySecret(secret, hash)).toBe(true);
    expect(verifySecret(`${secret}x`, hash)).toBe(false);
    expect(verifySecret(secret, 'sha256$abc$short')).toBe(false);
    expect(verifySecret(secret, 'garbage')).toBe(false);
  });
});
