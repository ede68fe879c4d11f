#!/usr/bin/env python3
"""A recording SMTP server for tests/integration/t_smtp.py, built on
aiosmtpd (Debian's python3-aiosmtpd):

    python3 smtp_server.py [--delay-first SECONDS] PORT OUTDIR [CERT KEY]

listens on 127.0.0.1:PORT, offers STARTTLS when CERT and KEY are given,
and writes each message it accepts to OUTDIR/NNNN.json (envelope sender,
recipients, whether the session was under TLS, the client's address and
port, which tell sessions apart, and the message as received,
dot-stuffing undone).  --delay-first holds the answer to the first
message, so that events queue up behind it and come as one batch.  It
prints "ready" once it accepts connections and runs until it is killed.
"""

import asyncio
import json
import os
import ssl
import sys
import time

sys.dont_write_bytecode = True

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, outdir, delay_first):
        self.outdir = outdir
        self.delay_first = delay_first
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        if self.count == 1 and self.delay_first > 0:
            await asyncio.sleep(self.delay_first)
        rec = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
               "tls": session.ssl is not None, "peer": "%s:%s" % tuple(session.peer[:2]),
               "data": envelope.original_content.decode("utf-8", "replace")}
        path = os.path.join(self.outdir, "%04d.json" % self.count)
        # Written whole, then renamed, so that the test never reads half a file.
        with open(path + ".tmp", "w") as f:
            json.dump(rec, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    args = sys.argv[1:]
    delay_first = 0.0
    if args[:1] == ["--delay-first"]:
        delay_first = float(args[1])
        args = args[2:]
    port, outdir = int(args[0]), args[1]
    kw = {}
    if len(args) > 3:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args[2], args[3])
        kw = {"tls_context": ctx, "require_starttls": False}
    ctl = Controller(Recorder(outdir, delay_first), hostname="127.0.0.1", port=port, **kw)
    ctl.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        ctl.stop()


if __name__ == "__main__":
    main()
