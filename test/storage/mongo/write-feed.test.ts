import type { ChangeStreamDocument } from 'mongodb';
import { mapChangeStreamError, toWriteEvent, writeFeedPipeline } from '../../../src/storage/mongo/write-feed';
import { WriteFeedHistoryLostError, WriteFeedUnavailableError, type ResourceDocument } from '../../../src/storage/ports';

describe('Mongo write feed', () => {
  it('watches inserts and replacements of the given types, projected to project and type', () => {
    expect(writeFeedPipeline(['AccessPolicy', 'User'])).toEqual([
      { $match: { operationType: { $in: ['insert', 'replace'] }, 'fullDocument.type': { $in: ['AccessPolicy', 'User'] } } },
      { $project: { operationType: 1, 'fullDocument.project': 1, 'fullDocument.type': 1 } },
    ]);
  });

  it('turns a change into an event carrying its resume token', () => {
    const change = { _id: { _data: 'token' }, operationType: 'replace', fullDocument: { project: 't/p', type: 'User' } } as unknown as ChangeStreamDocument<ResourceDocument>;
    expect(toWriteEvent(change)).toEqual({ project: 't/p', type: 'User', resumeToken: { _data: 'token' } });
    expect(toWriteEvent({ _id: {}, operationType: 'drop' } as unknown as ChangeStreamDocument<ResourceDocument>)).toBeUndefined();
  });

  it('maps the server errors the invalidation loop acts on', () => {
    const server = (code: number) => Object.assign(new Error(`server error ${code}`), { code });
    for (const code of [40573, 115, 13]) expect(mapChangeStreamError(server(code))).toBeInstanceOf(WriteFeedUnavailableError);
    for (const code of [286, 280]) expect(mapChangeStreamError(server(code))).toBeInstanceOf(WriteFeedHistoryLostError);
    const other = server(6);
    expect(mapChangeStreamError(other)).toBe(other);
  });
});
