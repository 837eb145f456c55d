# RFC 5256 SORT through imaplib: six messages APPENDed with fixed internal dates, then one line
# per SORT command with its result. The test compares the lines with what Dovecot 2.3 answered
# to this same script (the anchor, 2026-11-30).
import imaplib, sys
port=int(sys.argv[1]); user=sys.argv[2]; pw=sys.argv[3]
msgs=[
 ("Re: [list] Hello world", "Bob <bob@b.test>", "Zed <zed@z.test>", "", "Mon, 30 Nov 2026 10:00:00 +0000", 300),
 ("hello world (fwd)", "alice@a.test", "Yan <yan@y.test>", "c1@c.test", "Mon, 30 Nov 2026 09:00:00 -0500", 100),
 ("[fwd: Apple pie]", "=?UTF-8?B?w4lsaWU=?= <elie@e.test>", "amy@a.test", "", "garbage date", 500),
 ("=?UTF-8?Q?=C3=A9t=C3=A9?=", "carl@c.test", "", "b2@b.test", "Sun, 29 Nov 2026 23:00:00 +0000", 200),
 ("Fwd: Re: Banana", "Dave <dave@d.test>", "undisclosed-recipients:;", "a3@a.test", "Tue, 01 Dec 2026 00:00:00 +0000", 400),
 ("[blob]", "bob@b.test", "zoe@z.test", "", "Mon, 30 Nov 2026 10:00:00 +0000", 250),
]
M=imaplib.IMAP4('127.0.0.1',port); M.login(user,pw)
M.select('INBOX'); M.store('1:*','+FLAGS.SILENT','\\Deleted') if M.search(None,'ALL')[1][0] else None; M.expunge()
for i,(subj,frm,to,cc,date,size) in enumerate(msgs):
    h=f"From: {frm}\r\n"+(f"To: {to}\r\n" if to else "")+(f"Cc: {cc}\r\n" if cc else "")+f"Subject: {subj}\r\nDate: {date}\r\nMessage-ID: <s{i}@t>\r\n\r\n"
    body=h.encode()+b"x"*(size)+b"\r\n"
    M.append('INBOX',None,imaplib.Time2Internaldate(1764500000+i*60),body)
M.select('INBOX')
for crit in ['(SUBJECT)','(REVERSE SUBJECT)','(FROM)','(TO)','(CC)','(DATE)','(REVERSE DATE)','(ARRIVAL)','(SIZE)','(REVERSE SIZE SUBJECT)','(SUBJECT DATE)']:
    typ,d=M._simple_command('SORT',crit,'UTF-8','ALL'); print(crit, M._untagged_response(typ,d,'SORT')[1])
typ,d=M._simple_command('UID','SORT','(FROM)','UTF-8','LARGER','250')
uids=[int(x) for x in M._untagged_response(typ,d,'SORT')[1][0].split()]
first=int(M.fetch('1','(UID)')[1][0].split()[2].rstrip(b')'))
# UIDs differ between servers: printed as offsets from the first message's UID, plus one
print('UID SORT (FROM) LARGER 250', [' '.join(str(u-first+1) for u in uids).encode()])
M.store('1:*','+FLAGS.SILENT','\\Deleted'); M.expunge()
