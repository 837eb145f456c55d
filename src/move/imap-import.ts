// `postoffice import ADDRESS imap[s]://user@host:port`: every mailbox of another IMAP server.
import type { Store, UserRecord } from '../store/index.js';
import type { ImportOptions, ImportSummary } from './import.js';
import { SourceError } from './source.js';

export function isImapUrl(s: string): boolean {
  return /^imaps?:\/\//i.test(s);
}

export async function importImap(_store: Store, _user: UserRecord, _url: string, _opts: ImportOptions & { password: () => string }): Promise<ImportSummary> {
  throw new SourceError('IMAP import is not there yet');
}
