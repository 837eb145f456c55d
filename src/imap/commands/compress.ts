import type { ImapCommand } from '../session.js';
import { ImapBad, ImapNo, noMoreArgs, tokAtom } from '../wire.js';

// RFC 4978 §3 COMPRESS DEFLATE: after the tagged OK both directions are raw DEFLATE (RFC 1951).
export const compress: ImapCommand = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const alg = tokAtom(cmd.args[0], 'algorithm').toUpperCase();
    noMoreArgs(cmd.args, 1);
    if (alg !== 'DEFLATE') throw new ImapNo('CANNOT', `unknown compression algorithm ${alg}`);
    if (s.compressed) throw new ImapNo('COMPRESSIONACTIVE', 'DEFLATE is already active');
    if (s.parser.midCommand) throw new ImapBad('COMPRESS must not be pipelined');
    s.compressAfterReply = true;
    return 'DEFLATE active';
  },
};
