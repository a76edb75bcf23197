/**
 * Which network addresses an outbound request made on a client's behalf (a `jwksUri`, later an identity
 * provider's JWKS) may reach. Anything that is not a public unicast address is refused — loopback, private
 * (RFC 1918, unique-local), carrier-grade NAT, link-local (cloud metadata at 169.254.169.254), unspecified,
 * multicast, broadcast (in 240.0.0.0/4), documentation, benchmarking and reserved ranges (IANA special-purpose registries, RFC 6890)
 * — so a URL an administrator or a compromised client registers cannot make the server probe its own network
 * (SSRF). IPv6 addresses that embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible, NAT64
 * `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the embedded address.
 * Exceptions are configured: loopback for tests (`ALLOW_HTTP_JWKS_URI=loopback`), and named hosts or address ranges
 * (`JWKS_ALLOWED_HOSTS`) for key servers on an internal network.
 */
import { BlockList, isIP } from 'node:net';

/** What an address is, as far as outbound requests care. */
export type AddressKind = 'public' | 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'reserved';

type Range = [kind: Exclude<AddressKind, 'public'>, network: string, prefix: number];

const IPV4_RANGES: Range[] = [
  ['unspecified', '0.0.0.0', 8],
  ['private', '10.0.0.0', 8],
  ['private', '100.64.0.0', 10],
  ['loopback', '127.0.0.0', 8],
  ['link-local', '169.254.0.0', 16],
  ['private', '172.16.0.0', 12],
  ['reserved', '192.0.0.0', 24],
  ['reserved', '192.0.2.0', 24],
  ['reserved', '192.88.99.0', 24],
  ['private', '192.168.0.0', 16],
  ['reserved', '198.18.0.0', 15],
  ['reserved', '198.51.100.0', 24],
  ['reserved', '203.0.113.0', 24],
  ['multicast', '224.0.0.0', 4],
  ['reserved', '240.0.0.0', 4],
];

const IPV6_RANGES: Range[] = [
  ['unspecified', '::', 128],
  ['loopback', '::1', 128],
  ['reserved', '100::', 64],
  ['reserved', '2001::', 23],
  ['reserved', '2001:db8::', 32],
  ['private', 'fc00::', 7],
  ['link-local', 'fe80::', 10],
  ['private', 'fec0::', 10],
  ['multicast', 'ff00::', 8],
];

const LISTS = new Map<Exclude<AddressKind, 'public'>, BlockList>();
for (const [kind, network, prefix] of [...IPV4_RANGES, ...IPV6_RANGES]) {
  let list = LISTS.get(kind);
  if (!list) LISTS.set(kind, (list = new BlockList()));
  list.addSubnet(network, prefix, isIP(network) === 6 ? 'ipv6' : 'ipv4');
}

/** The 16 bytes of an IPv6 address (validated by `isIP` first; a zone index is dropped). */
function ipv6Bytes(address: string): number[] {
  let bare = address.split('%')[0] as string;
  // A trailing dotted quad (`::ffff:1.2.3.4`) is two 16-bit groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(bare);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    bare = `${bare.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const [head = '', tail] = bare.split('::') as [string, string | undefined];
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return words.flatMap((word) => [word >> 8, word & 0xff]);
}

/**
 * The IPv4 address an IPv6 address stands for, when it embeds one the network would route to.
 * @param address - an IPv6 address
 * @returns the dotted IPv4 address, or undefined
 */
function embeddedIpv4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  const zero = (from: number, to: number): boolean => b.slice(from, to).every((x) => x === 0);
  const dotted = (from: number): string => b.slice(from, from + 4).join('.');
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return dotted(12); // ::ffff:a.b.c.d (IPv4-mapped)
  if (zero(0, 12) && !zero(12, 14)) return dotted(12); // ::a.b.c.d (IPv4-compatible, deprecated); not :: or ::1
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return dotted(12); // 64:ff9b::/96 (NAT64)
  if (b[0] === 0x20 && b[1] === 0x02) return dotted(2); // 2002::/16 (6to4)
  return undefined;
}

/**
 * Classifies an IP address.
 * @param address - an IPv4 or IPv6 address (not a host name)
 * @returns its kind; `reserved` for anything that is not an IP address
 */
export function classifyAddress(address: string): AddressKind {
  const version = isIP(address);
  if (version === 0) return 'reserved';
  if (version === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) return classifyAddress(v4);
  }
  const family = version === 6 ? 'ipv6' : 'ipv4';
  const bare = version === 6 ? (address.split('%')[0] as string) : address;
  for (const [kind, list] of LISTS) if (list.check(bare, family)) return kind;
  return 'public';
}

/** Which non-public destinations are allowed. */
export interface AddressPolicyOptions {
  /** Loopback addresses may be reached (tests, `ALLOW_HTTP_JWKS_URI=loopback`). */
  allowLoopback: boolean;
  /** Host names (exact, case-insensitive) whose addresses are not checked, and IP addresses or CIDR ranges that are allowed. */
  allowedHosts: string[];
}

/** Decides which destinations outbound requests may reach. */
export class AddressPolicy {
  private readonly hosts = new Set<string>();
  private readonly ranges = new BlockList();

  constructor(private readonly options: AddressPolicyOptions) {
    for (const entry of options.allowedHosts) {
      const [address = '', prefix] = entry.split('/');
      const version = isIP(address);
      if (version === 0) this.hosts.add(entry.toLowerCase());
      else this.ranges.addSubnet(address, prefix === undefined ? (version === 6 ? 128 : 32) : Number(prefix), version === 6 ? 'ipv6' : 'ipv4');
    }
  }

  /**
   * Whether a host name is exempt from the address check (named in the allowed hosts).
   * @param host - the URL's host name, lowercase, without brackets
   * @returns true when listed
   */
  isHostAllowed(host: string): boolean {
    return this.hosts.has(host.toLowerCase());
  }

  /**
   * Whether an address may be connected to.
   * @param address - the resolved IP address
   * @returns true for a public address, an allowed range, or loopback when loopback is allowed
   */
  isAddressAllowed(address: string): boolean {
    const kind = classifyAddress(address);
    if (kind === 'public') return true;
    if (kind === 'loopback' && this.options.allowLoopback) return true;
    const version = isIP(address);
    if (version === 0) return false;
    const v4 = version === 6 ? embeddedIpv4(address) : undefined;
    if (v4 !== undefined) return this.ranges.check(v4, 'ipv4');
    return this.ranges.check(version === 6 ? (address.split('%')[0] as string) : address, version === 6 ? 'ipv6' : 'ipv4');
  }
}
