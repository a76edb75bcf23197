import { checkServerVersion, MongoVersionUnsupportedError } from '../../../src/storage/mongo/connect';

describe('checkServerVersion', () => {
  it('accepts MongoDB 7.0 and later', () => {
    for (const version of ['7.0.0', '7.0.12', '7.3.1', '8.0.4', '10.1.0']) expect(() => checkServerVersion(version)).not.toThrow();
  });

  it('refuses older or unreadable versions, naming the version', () => {
    for (const version of ['6.0.19', '5.0.0', '4.4.29', 'unknown', '']) {
      expect(() => checkServerVersion(version)).toThrow(MongoVersionUnsupportedError);
    }
    expect(() => checkServerVersion('6.0.19')).toThrow('MongoDB storage needs MongoDB 7.0 or later (compound wildcard indexes); the server is 6.0.19');
  });
});
