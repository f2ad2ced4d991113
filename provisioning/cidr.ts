// IPv4 CIDR parsing. Ranges end up in UFW rules and MySQL account host patterns,
// so anything ambiguous (host bits set, leading zeros, IPv6) is refused here.

export interface Ipv4Cidr {
  readonly address: string;
  readonly prefix: number;
  /** The text form, e.g. "198.18.0.0/24". */
  readonly text: string;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIpv4(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** Parses "a.b.c.d/n"; throws an Error naming the bad value and why. */
export function parseCidr(text: string, what = 'CIDR range'): Ipv4Cidr {
  if (typeof text !== 'string') throw new Error(`${what}: expected a string like "198.18.0.0/24"`);
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!m) {
    if (text.includes(':')) throw new Error(`${what} ${JSON.stringify(text)}: IPv6 ranges are not supported`);
    throw new Error(`${what} ${JSON.stringify(text)} is not an IPv4 CIDR range like "198.18.0.0/24"`);
  }
  const value = parseIpv4(m[1]);
  const prefix = Number(m[2]);
  if (value === undefined) throw new Error(`${what} ${JSON.stringify(text)}: ${m[1]} is not an IPv4 address`);
  if (prefix > 32) throw new Error(`${what} ${JSON.stringify(text)}: prefix length must be 0..32`);
  const size = 2 ** (32 - prefix);
  if (value % size !== 0) {
    const network = formatIpv4(value - (value % size));
    throw new Error(`${what} ${JSON.stringify(text)} has host bits set; did you mean ${network}/${prefix}?`);
  }
  return { address: m[1], prefix, text };
}

export function cidrContains(range: Ipv4Cidr, address: string): boolean {
  const value = parseIpv4(address);
  if (value === undefined) return false;
  const size = 2 ** (32 - range.prefix);
  const base = parseIpv4(range.address) as number;
  return value >= base && value < base + size;
}

/** MySQL account host pattern for a range: '%' for everything, a bare address for /32, CIDR otherwise. */
export function mysqlHostPattern(range: Ipv4Cidr): string {
  if (range.prefix === 0) return '%';
  if (range.prefix === 32) return range.address;
  return range.text;
}
