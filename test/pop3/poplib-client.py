# Python's poplib against postoffice: STLS on the plain port and implicit TLS (POP3_SSL).
# argv: mode (stls|ssl) port user password outdir; prints one JSON object.
import json, os, poplib, ssl, sys

mode, port, user, password, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

if mode == 'stls':
    p = poplib.POP3('127.0.0.1', port, timeout=15)
    caps_before = p.capa()
    p.stls(ctx)
else:
    p = poplib.POP3_SSL('127.0.0.1', port, context=ctx, timeout=15)
    caps_before = None
caps = p.capa()
p.user(user)
p.pass_(password)
count, size = p.stat()
listing = [l.decode() for l in p.list()[1]]
uidl = [l.decode() for l in p.uidl()[1]]
tops = []
for i in range(1, count + 1):
    resp, lines, octets = p.retr(i)
    with open(os.path.join(outdir, f'{mode}-{i}.eml'), 'wb') as f:
        f.write(b'\r\n'.join(lines) + b'\r\n')
    tops.append(len(p.top(i, 0)[1]))
dele = p.dele(1).decode()
rset = p.rset().decode()
dele2 = p.dele(count).decode()
quit = p.quit().decode()
print(json.dumps({'capsBefore': caps_before and sorted(caps_before), 'caps': sorted(caps), 'count': count, 'size': size,
                  'list': listing, 'uidl': uidl, 'tops': tops, 'dele': dele, 'rset': rset, 'dele2': dele2, 'quit': quit}))
