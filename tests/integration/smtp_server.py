#!/usr/bin/env python3
"""A recording SMTP server for tests/integration/t_smtp.py, built on
aiosmtpd (Debian's python3-aiosmtpd):

    python3 smtp_server.py PORT OUTDIR [CERT KEY]

listens on 127.0.0.1:PORT, offers STARTTLS when CERT and KEY are given,
and writes each message it accepts to OUTDIR/NNNN.json (envelope sender,
recipients, whether the session was under TLS, and the message as
received, dot-stuffing undone).  It prints "ready" once it accepts
connections and runs until it is killed.
"""

import json
import os
import ssl
import sys
import time

sys.dont_write_bytecode = True

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        rec = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
               "tls": session.ssl is not None,
               "data": envelope.original_content.decode("utf-8", "replace")}
        path = os.path.join(self.outdir, "%04d.json" % self.count)
        # Written whole, then renamed, so that the test never reads half a file.
        with open(path + ".tmp", "w") as f:
            json.dump(rec, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    port, outdir = int(sys.argv[1]), sys.argv[2]
    kw = {}
    if len(sys.argv) > 4:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        kw = {"tls_context": ctx, "require_starttls": False}
    ctl = Controller(Recorder(outdir), hostname="127.0.0.1", port=port, **kw)
    ctl.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        ctl.stop()


if __name__ == "__main__":
    main()
