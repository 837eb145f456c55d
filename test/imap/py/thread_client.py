# RFC 5256 THREAD through imaplib: a small conversation (replies, a reply to a missing message,
# a subject-only reply, a loop in References, duplicates) APPENDed with fixed internal dates, then
# one line per THREAD command. The test compares the lines with what Dovecot 2.3 answered to this
# same script (the anchor, 2026-11-30).
import imaplib, sys
port=int(sys.argv[1]); user=sys.argv[2]; pw=sys.argv[3]
# (message-id, in-reply-to, references, subject, date)
msgs=[
 ("<a@t>", None, None, "Plans", "Mon, 30 Nov 2026 10:00:00 +0000"),
 ("<b@t>", "<a@t>", "<a@t>", "Re: Plans", "Mon, 30 Nov 2026 11:00:00 +0000"),
 ("<c@t>", "<b@t>", "<a@t> <b@t>", "Re: Plans", "Mon, 30 Nov 2026 12:00:00 +0000"),
 ("<d@t>", "<a@t>", "<a@t>", "Re: Plans", "Mon, 30 Nov 2026 10:30:00 +0000"),
 ("<e@t>", "<missing@t>", "<missing@t>", "Re: Lost parent", "Mon, 30 Nov 2026 09:00:00 +0000"),
 ("<f@t>", "<missing@t>", "<missing@t>", "Re: Lost parent", "Mon, 30 Nov 2026 09:30:00 +0000"),
 ("<g@t>", None, None, "Re: Plans", "Tue, 01 Dec 2026 08:00:00 +0000"),
 ("<h@t>", None, None, "Lunch", "Sun, 29 Nov 2026 12:00:00 +0000"),
 ("<i@t>", None, "<j@t>", "Loop", "Mon, 30 Nov 2026 13:00:00 +0000"),
 ("<j@t>", None, "<i@t>", "Re: Loop", "Mon, 30 Nov 2026 13:30:00 +0000"),
 ("<a@t>", None, None, "Plans (duplicate id)", "Mon, 30 Nov 2026 14:00:00 +0000"),
 (None, None, None, "Lunch", "Mon, 30 Nov 2026 12:30:00 +0000"),
]
if len(sys.argv) > 4 and sys.argv[4] == 'subjects':
    # subject gathering (RFC 5256 §4 step 5): replies before their original, two originals with
    # one subject, a thread whose first message is missing, an empty subject
    msgs=[
     ("<r1@t>", None, None, "Re: Budget", "Mon, 30 Nov 2026 08:00:00 +0000"),
     ("<o1@t>", None, None, "Budget", "Mon, 30 Nov 2026 09:00:00 +0000"),
     ("<o2@t>", None, None, "Budget", "Mon, 30 Nov 2026 07:00:00 +0000"),
     ("<x1@t>", "<gone@t>", "<gone@t>", "Re: Budget", "Mon, 30 Nov 2026 10:00:00 +0000"),
     ("<x2@t>", "<gone@t>", "<gone@t>", "Budget", "Mon, 30 Nov 2026 10:30:00 +0000"),
     ("<e1@t>", None, None, "", "Mon, 30 Nov 2026 11:00:00 +0000"),
     ("<e2@t>", None, None, "", "Mon, 30 Nov 2026 06:00:00 +0000"),
     ("<f1@t>", None, None, "Fwd: Budget", "Mon, 30 Nov 2026 12:00:00 +0000"),
     ("<k1@t>", "<o1@t>", "<o1@t> <zz@t>", "Re: Other", "Mon, 30 Nov 2026 12:30:00 +0000"),
    ]
M=imaplib.IMAP4('127.0.0.1',port); M.login(user,pw)
M.select('INBOX')
if M.search(None,'ALL')[1][0]: M.store('1:*','+FLAGS.SILENT','\\Deleted')
M.expunge()
for i,(mid,irt,refs,subj,date) in enumerate(msgs):
    h="From: a@t\r\n"+(f"Message-ID: {mid}\r\n" if mid else "")+(f"In-Reply-To: {irt}\r\n" if irt else "")+(f"References: {refs}\r\n" if refs else "")+f"Subject: {subj}\r\nDate: {date}\r\n\r\nbody {i}\r\n"
    M.append('INBOX',None,imaplib.Time2Internaldate(1764500000+i*60),h.encode())
M.select('INBOX')
for alg, key in [('ORDEREDSUBJECT','ALL'),('REFERENCES','ALL'),('REFERENCES','NOT SUBJECT Lunch')]:
    typ,d=M._simple_command('THREAD',alg,'UTF-8',*key.split()); print(alg, key, M._untagged_response(typ,d,'THREAD')[1])
typ,d=M._simple_command('UID','THREAD','REFERENCES','UTF-8','ALL')
first=int(M.fetch('1','(UID)')[1][0].split()[2].rstrip(b')'))
import re
raw=M._untagged_response(typ,d,'THREAD')[1][0].decode()
# UIDs differ between servers: printed as offsets from the first message's UID, plus one
print('UID REFERENCES', re.sub(r'\d+', lambda m: str(int(m.group())-first+1), raw))
M.store('1:*','+FLAGS.SILENT','\\Deleted'); M.expunge()
