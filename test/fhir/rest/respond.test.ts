import { httpDate, versionHeaders } from '../../../src/fhir/rest/respond';

describe('httpDate', () => {
  it('formats server instants exactly as Date#toUTCString does', () => {
    // Every day of four years (a leap year among them), at varying times and fractions.
    const start = Date.UTC(2023, 0, 1, 0, 0, 0);
    for (let day = 0; day < 4 * 366; day++) {
      const ms = start + day * 86_400_000 + ((day * 7919) % 86_400) * 1000 + (day % 1000);
      const iso = new Date(ms).toISOString();
      expect(httpDate(iso)).toBe(new Date(iso).toUTCString());
      expect(httpDate(iso.replace(/\.\d+Z$/, 'Z'))).toBe(new Date(iso).toUTCString());
    }
  });

  it('falls back to date parsing for other forms', () => {
    expect(httpDate('2026-11-23T07:01:13+01:00')).toBe('Mon, 23 Nov 2026 06:01:13 GMT');
    expect(httpDate('2026-13-01T00:00:00Z')).toBe('Invalid Date');
  });

  it('gives ETag and Last-Modified for a version', () => {
    expect(versionHeaders(3, '2024-02-29T23:59:59.999Z')).toEqual({ ETag: 'W/"3"', 'Last-Modified': 'Thu, 29 Feb 2024 23:59:59 GMT' });
  });
});
