/** Which addresses outbound requests (remote JWKS) may reach: public unicast only, unless configured. */
import { AddressPolicy, classifyAddress } from '../../src/security/address-policy';

describe('classifyAddress', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['2002:808:808::1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['2002:7f00:1::', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['not-an-address', 'reserved'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });
  it('keeps 172.32.0.0 and 11.0.0.0 public (just outside the private ranges)', () => {
    expect([classifyAddress('172.32.0.1'), classifyAddress('11.0.0.1'), classifyAddress('100.128.0.1')]).toEqual(['public', 'public', 'public']);
  });
});

describe('AddressPolicy', () => {
  it('allows public addresses only by default', () => {
    const policy = new AddressPolicy({ allowLoopback: false, allowedHosts: [] });
    expect(['8.8.8.8', '127.0.0.1', '::1', '10.0.0.1', '169.254.169.254', '::ffff:127.0.0.1'].map((a) => policy.isAddressAllowed(a))).toEqual([true, false, false, false, false, false]);
    expect(policy.isHostAllowed('localhost')).toBe(false);
  });

  it('allows loopback in loopback mode, and nothing else that is not public', () => {
    const policy = new AddressPolicy({ allowLoopback: true, allowedHosts: [] });
    expect(['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.0.0.1', '169.254.169.254'].map((a) => policy.isAddressAllowed(a))).toEqual([true, true, true, false, false]);
  });

  it('allows configured ranges and host names', () => {
    const policy = new AddressPolicy({ allowLoopback: false, allowedHosts: ['10.20.0.0/16', 'fd00::/8', '192.168.1.7', 'keys.intranet.example'] });
    expect(['10.20.3.4', '::ffff:10.20.3.4', '10.21.0.1', 'fd00::5', '192.168.1.7', '192.168.1.8', '127.0.0.1'].map((a) => policy.isAddressAllowed(a))).toEqual([
      true,
      true,
      false,
      true,
      true,
      false,
      false,
    ]);
    expect(policy.isHostAllowed('KEYS.intranet.example')).toBe(true);
    expect(policy.isHostAllowed('intranet.example')).toBe(false);
  });
});
