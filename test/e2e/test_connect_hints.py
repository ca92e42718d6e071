"""Permanent mistakes say what to fix: an unknown region warns at start-up, a DNS failure and an
untrusted certificate get a hint with the attempt number and the next delay, and certificate
failures end in exit status 3 after websocket.certificate_failure_limit of them."""
import re

from harness import LOCALPROXY, Harness, Proc, deep_merge, free_port

SHORT_RETRIES = {"tunneling": {"proxy": {"websocket": {
    "retry_delay_ms": 50, "retry_delay_max_ms": 100, "handshake_timeout_ms": 2000}}}}

UNRESOLVED = "%s.nonexistent.invalid"  # RFC 2606: .invalid never resolves


def with_settings(**proxy):
    """SHORT_RETRIES with these tunneling.proxy keys (dotted names as nested dicts) merged in."""
    extra = {}
    for dotted, value in proxy.items():
        node = extra
        *groups, last = dotted.split("__")
        for g in groups:
            node = node.setdefault(g, {})
        node[last] = value
    return deep_merge(SHORT_RETRIES, {"tunneling": {"proxy": extra}})


class ConnectHints(Harness):
    def run_source(self, args, settings=None):
        args = [LOCALPROXY, "-s", str(free_port())] + args
        args += ["--settings-json", self.settings_file(settings or SHORT_RETRIES), "-v", "4"]
        p = Proc("source", args, self.dir, env={"AWSIOT_TUNNEL_ACCESS_TOKEN": "tok"})
        self.procs.append(p)
        return p

    # endpoint_format points the regions at a name that never resolves: no test talks to AWS.
    def test_an_unknown_region_warns_before_any_connection(self):
        p = self.run_source(["-r", "us-wset-2"], with_settings(endpoint_format=UNRESOLVED))
        warning = p.wait_for(r"\[warning\] -r/--region: us-wset-2 is not a known AWS IoT Secure Tunneling region "
                             r"\(did you mean us-west-2\?\); trying us-wset-2\.nonexistent\.invalid anyway")
        first_attempt = p.wait_for(r"Could not connect to wss://us-wset-2\.nonexistent\.invalid:443 \(attempt 1\)",
                                   timeout=30)
        self.assertLess(warning.start(), first_attempt.start())
        self.assertEqual(p.text().count("is not a known AWS IoT Secure Tunneling region"), 1)

    def test_a_known_region_or_one_the_settings_add_gives_no_warning(self):
        for region, extra in (("eu-west-1", ""), ("xx-new-1", "xx-new-1")):
            p = self.run_source(["-r", region], with_settings(endpoint_format=UNRESOLVED, extra_regions=extra))
            p.wait_for(r"Could not connect to .*\(attempt 1\)", timeout=30)
            self.assertNotIn("not a known", p.text())
            p.stop()

    def test_dns_failure_says_what_is_likely_wrong_with_the_attempt_and_the_delay(self):
        p = self.run_source(["-e", "nonexistent.invalid"])
        for attempt in (1, 2):
            line = p.wait_for(r"Could not connect to wss://nonexistent\.invalid:443 \(attempt %d\): [^\n]*" % attempt,
                              timeout=30).group(0)
            self.assertIn("Likely cause: the host name does not resolve", line)
            self.assertIn("--web-proxy", line)
            self.assertRegex(line, r"Reconnecting in \d+ ms$")
        self.assertTrue(p.running())  # a DNS failure may be a blip: it keeps retrying

    def test_an_untrusted_certificate_exits_three_after_the_limit_with_the_hint(self):
        self.start_service()  # wss with its own CA, which the system store does not trust
        p = self.run_source(["-e", f"localhost:{self.service_port}"],  # no -c
                            settings=with_settings(websocket__certificate_failure_limit=4))
        self.assertEqual(p.wait_exit(30), 3, p.tail())
        log = p.text()
        attempts = re.findall(r"Could not connect to wss://localhost:\d+ \(attempt (\d)\): TLS handshake with the "
                              r"service failed: [^\n]*certificate verify failed[^\n]*Likely cause: the certificate is "
                              r"not trusted[^\n]*-c DIR", log)
        self.assertEqual(attempts, ["1", "2", "3", "4"], log)
        self.assertEqual(log.count("Reconnecting in"), 3)
        self.assertIn("Not retrying: 4 certificate failures in a row (websocket.certificate_failure_limit = 4)", log)

    def test_certificate_failure_limit_zero_keeps_retrying(self):
        self.start_service()
        p = self.run_source(["-e", f"localhost:{self.service_port}"],
                            settings=with_settings(websocket__certificate_failure_limit=0))
        p.wait_for(r"\(attempt 5\): TLS handshake with the service failed", timeout=30)
        self.assertTrue(p.running())


if __name__ == "__main__":
    import unittest
    unittest.main()
