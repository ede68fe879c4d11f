"""SMTPEventConsumer (smtp.so) against a real SMTP server: aiosmtpd
(Debian's python3-aiosmtpd, run by tests/integration/smtp_server.py) on
a free loopback port, once in plain text and once with STARTTLS and a CA
and server certificate that the test makes with the openssl command; and
a server that is down, which must raise __ConsumerFailureEvent."""

import email
import email.policy
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from wmitest import (
    binding, Daemon, ev, event_filter, lf_path, logfile_consumer, q, read_lines, ROOT, Skip, test,
    TEST_EVENT_CLASS, wait_for)

# Debian's package installs the library for the system's interpreter, which
# may not be the first python3 on PATH.
SERVER_PYTHON = "/usr/bin/python3"
SMTP_PATH = "SMTPEventConsumer.Name=" + q("Mail")
WBEM_E_TRANSPORT_FAILURE = 0x80041015


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SmtpServer:
    """smtp_server.py on a free port, recording into @tmp/mail."""

    def __init__(self, tmp, tls=None, delay_first=0):
        if not os.access(SERVER_PYTHON, os.X_OK) or subprocess.run(
                [SERVER_PYTHON, "-c", "import aiosmtpd"], capture_output=True).returncode != 0:
            raise Skip("aiosmtpd is not installed for %s (make deps installs python3-aiosmtpd)" % SERVER_PYTHON)
        self.out = os.path.join(tmp, "mail")
        os.makedirs(self.out, exist_ok=True)
        self.port = free_port()
        args = [SERVER_PYTHON, os.path.join(ROOT, "tests", "integration", "smtp_server.py"),
                "--delay-first", str(delay_first), str(self.port), self.out] + list(tls or [])
        self.errf = open(os.path.join(tmp, "smtp_server.err"), "w+b")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.errf, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            self.stop()
            self.errf.seek(0)
            raise Skip("the aiosmtpd server did not start: %s" % self.errf.read().decode(errors="replace")[-500:])

    def messages(self):
        out = []
        for p in sorted(glob.glob(os.path.join(self.out, "*.json"))):
            with open(p) as f:
                out.append(json.load(f))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.errf.close()


def make_certs(tmp):
    """A CA and a server certificate for 127.0.0.1 signed by it; returns
    (ca.pem, server.pem, server.key)."""
    def run(*args):
        p = subprocess.run(["openssl"] + list(args), cwd=tmp, capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr.decode()[-1000:]
    if shutil.which("openssl") is None:
        raise Skip("no openssl command to make the test certificates")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=wmieventd test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(tmp, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    return tuple(os.path.join(tmp, n) for n in ("ca.pem", "server.pem", "server.key"))


def smtp_objects(dr, server, hosting=None, **props):
    """Test_Event to an SMTPEventConsumer at @server (in a host process
    when @hosting is a HostingModel), and the engine's
    __ConsumerFailureEvent to a log file."""
    mail = {"__CLASS": "SMTPEventConsumer", "Name": "Mail", "SMTPServer": server,
            "FromLine": "wmieventd <wmi@example.org>",
            "ToLine": "Ops <ops@example.org>; dev@example.org",
            "CcLine": "cc@example.org", "BccLine": "hidden@example.org",
            "ReplyToLine": "noreply@example.org",
            "Subject": "sev=%Severity% %Message%",
            "Message": "Event %Message% (seq %Seq%)\n.\n.leading dot\nend",
            "HeaderFields": ["X-Wmi-Test: yes"]}
    mail.update(props)
    provider = {"__CLASS": "__Win32Provider", "Name": "SMTPEventConsumer", "Library": "smtp.so"}
    if hosting:
        provider["HostingModel"] = hosting
    return [TEST_EVENT_CLASS,
            provider,
            {"__CLASS": "__EventConsumerProviderRegistration",
             "Provider": "__Win32Provider.Name=" + q("SMTPEventConsumer"),
             "ConsumerClassNames": ["SMTPEventConsumer"]},
            {"__CLASS": "__Win32Provider", "Name": "LogFileEventConsumer", "Library": "logfile.so"},
            {"__CLASS": "__EventConsumerProviderRegistration",
             "Provider": "__Win32Provider.Name=" + q("LogFileEventConsumer"),
             "ConsumerClassNames": ["LogFileEventConsumer"]},
            event_filter("AllTest", "SELECT * FROM Test_Event"),
            mail,
            binding("AllTest", SMTP_PATH),
            event_filter("Failures", "SELECT * FROM __ConsumerFailureEvent"),
            logfile_consumer("FailLog", os.path.join(dr, "failures.log"),
                             "%__CLASS%|%ErrorCode%|%Event.Message%|%IntendedConsumer%"),
            binding("Failures", lf_path("FailLog"))]


def smtp_daemon(server, env=None, hosting=None, **props):
    d = Daemon([], None, env)
    with open(os.path.join(d.dir, "conf.d", "10-test.json"), "w") as f:
        json.dump(smtp_objects(d.dir, server, hosting, **props), f, indent=1)
    return d


def check_message(rec, seq):
    """The recorded message of the standard consumer for Test_Event
    Message=hello, Severity=2, Seq=@seq."""
    assert rec["mail_from"] == "wmi@example.org", rec
    assert sorted(rec["rcpt_tos"]) == sorted(["ops@example.org", "dev@example.org", "cc@example.org",
                                               "hidden@example.org"]), rec
    msg = email.message_from_string(rec["data"], policy=email.policy.default)
    assert msg["Subject"] == "sev=2 hello", msg["Subject"]
    assert msg["From"] == "wmieventd <wmi@example.org>", msg["From"]
    assert msg["To"] == "Ops <ops@example.org>, dev@example.org", msg["To"]
    assert msg["Cc"] == "cc@example.org" and msg["Reply-To"] == "noreply@example.org", rec["data"]
    assert msg["Bcc"] is None and "hidden@" not in rec["data"], rec["data"]
    assert msg["X-Wmi-Test"] == "yes", rec["data"]
    assert msg["Date"] is not None and msg["Date"].datetime is not None, rec["data"]
    assert abs(msg["Date"].datetime.timestamp() - time.time()) < 300, msg["Date"]
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith(">"), msg["Message-ID"]
    # The lines "." and ".leading dot" arrive whole (libcurl dot-stuffs),
    # and every line ends in CRLF.
    assert msg.get_content() == "Event hello (seq %d)\r\n.\r\n.leading dot\r\nend\r\n" % seq, \
        repr(msg.get_content())


@test
def test_smtp_plain():
    """A message per event, with the expanded headers and body, sent in
    plain text to a server that offers no STARTTLS.  The server holds the
    first message for a while, so the events behind it come to the
    consumer in batches, each of which goes out in one session."""
    tmp = tempfile.mkdtemp(prefix="wmit-smtp-", dir="/tmp")
    srv = SmtpServer(tmp, delay_first=0.5)
    try:
        with smtp_daemon("127.0.0.1:%d" % srv.port) as d:
            d.start()
            c = d.connect()
            c.send(ev("hello", Severity=2, Seq=0))
            c.ping()
            wait_for(lambda: c.stats()["Stats"]["consumers"].get(SMTP_PATH, {}).get("queued_events", 1) == 0,
                     "the first event in the consumer's hands", interval=0.01)
            for i in range(1, 6):
                c.send(ev("hello", Severity=2, Seq=i))
            c.ping()
            wait_for(lambda: len(srv.messages()) == 6, "6 messages at the server")
            recs = srv.messages()
            for rec in recs:
                assert not rec["tls"], rec
            seqs = [int(rec["data"].split("(seq ")[1].split(")")[0]) for rec in recs]
            assert seqs == list(range(6)), seqs
            for rec, seq in zip(recs, seqs):
                check_message(rec, seq)
            # A session per call: the events that queued behind the first
            # come in one or more batches (how the engine cuts them is its
            # own business), at least one of them sent as several messages
            # on one connection.
            peers = [rec["peer"] for rec in recs]
            assert len(set(peers)) < len(peers), peers
            s = c.stats()["Stats"]["consumers"][SMTP_PATH]
            assert s["delivered"] == 6 and s["failed"] == 0, s
            assert read_lines(d.path("failures.log")) == []
            d.stop()
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def test_smtp_starttls():
    """STARTTLS with the server's certificate checked against the CA file
    of WMIEVENTD_SMTP_CA_FILE (and TLS required), from an isolated host
    as docs/consumers.md recommends (it inherits the daemon's
    environment); without that CA the certificate does not verify and the
    call fails."""
    tmp = tempfile.mkdtemp(prefix="wmit-smtp-", dir="/tmp")
    ca, cert, key = make_certs(tmp)
    srv = SmtpServer(tmp, (cert, key))
    try:
        env = {"WMIEVENTD_SMTP_CA_FILE": ca, "WMIEVENTD_SMTP_REQUIRE_TLS": "1"}
        with smtp_daemon("127.0.0.1:%d" % srv.port, env, "NetworkServiceHost") as d:
            d.start()
            c = d.connect()
            c.send(ev("hello", Severity=2, Seq=7))
            c.ping()
            wait_for(lambda: srv.messages(), "the message at the server")
            rec = srv.messages()[0]
            assert rec["tls"], rec
            check_message(rec, 7)
            d.stop()

        # The system's CAs do not know the test CA: a TLS failure.
        with smtp_daemon("127.0.0.1:%d" % srv.port, {"WMIEVENTD_SMTP_CA_FILE": ""}) as d:
            d.start()
            c = d.connect()
            c.send(ev("untrusted", Severity=2, Seq=8))
            c.ping()
            wait_for(lambda: read_lines(d.path("failures.log")), "the failure event")
            rep = read_lines(d.path("failures.log"))[0].split("|")
            assert rep[0] == "__ConsumerFailureEvent" and int(rep[1]) == WBEM_E_TRANSPORT_FAILURE, rep
            assert rep[2] == "untrusted" and rep[3] == SMTP_PATH, rep
            assert d.log_lines("SMTPEventConsumer.Name=\"Mail\""), d.log()
            assert len(srv.messages()) == 1, srv.messages()
            d.stop()
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def test_smtp_server_down():
    """A server that is down: WBEM_E_TRANSPORT_FAILURE, so the engine
    raises __ConsumerFailureEvent, and curl's reason in the daemon's log."""
    port = free_port()
    with smtp_daemon("127.0.0.1:%d" % port) as d:
        d.start()
        c = d.connect()
        c.send(ev("lost", Severity=1, Seq=1))
        c.ping()
        wait_for(lambda: read_lines(d.path("failures.log")), "the failure event")
        rep = read_lines(d.path("failures.log"))[0].split("|")
        assert rep[0] == "__ConsumerFailureEvent" and int(rep[1]) == WBEM_E_TRANSPORT_FAILURE, rep
        assert rep[2] == "lost" and rep[3] == SMTP_PATH, rep
        lines = d.log_lines("SMTPEventConsumer.Name=\"Mail\"", "127.0.0.1:%d" % port)
        assert lines and any("onnect" in l for l in lines), d.log()
        s = c.stats()["Stats"]["consumers"][SMTP_PATH]
        assert s["failed"] == 1 and s["delivered"] == 0, s
        d.stop()
