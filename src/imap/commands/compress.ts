import type { ImapCommand } from '../types.js';
import { ImapBad, ImapNo } from '../wire.js';

// RFC 4978 §3 COMPRESS DEFLATE: after the tagged OK both directions are raw DEFLATE (RFC 1951).
export const compress: ImapCommand<'COMPRESS'> = {
  states: ['authenticated', 'selected'],
  async run(s, { mechanism }) {
    if (mechanism !== 'DEFLATE') throw new ImapNo('CANNOT', `unknown compression algorithm ${mechanism.slice(0, 40)}`);
    if (s.compressed) throw new ImapNo('COMPRESSIONACTIVE', 'DEFLATE is already active');
    if (s.parser.midCommand) throw new ImapBad('COMPRESS must not be pipelined');
    return { text: 'DEFLATE active', after: 'compress' };
  },
};
