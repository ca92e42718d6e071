"""cmake --install, the man page, the systemd units and the .deb, checked against the build."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, LOCALPROXY

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.path.join(BIN, ".."))
MAN = os.path.join(ROOT, "packaging", "man", "localproxy.1")
UNITS = os.path.join(ROOT, "packaging", "systemd")


def run(args, timeout=120, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


class ManPage(unittest.TestCase):
    def test_every_option_of_help_is_in_the_man_page_and_no_other(self):
        help_text = run([LOCALPROXY, "--help"]).stdout
        help_options = set(re.findall(r"^\s+(?:-\w, )?(--[a-z-]+)", help_text, re.M))
        self.assertGreater(len(help_options), 20)
        with open(MAN) as f:
            man = f.read().replace("\\-", "-")
        described = set(re.findall(r"^\.BR (?:-\w \", \" )?(--[a-z-]+)", man, re.M))
        self.assertEqual(described, help_options)

    def test_the_man_page_groups_the_options_as_help_does(self):
        def groups(text, heading_rx, option_rx):
            out, current = {}, None
            for line in text.splitlines():
                h = re.match(heading_rx, line)
                if h:
                    current = out.setdefault(h.group(1), [])
                    continue
                o = re.match(option_rx, line)
                if o and current is not None:
                    current.append(o.group(1))
            return out
        help_text = run([LOCALPROXY, "--help"]).stdout.split("Exit statuses:")[0]
        by_help = groups(help_text, r"^(\w[\w ]+):$", r"^\s+(?:-\w, )?(--[a-z-]+)")
        with open(MAN) as f:
            man = f.read().replace("\\-", "-").split(".SH ENVIRONMENT")[0]
        by_man = groups(man, r'^\.SS "(.+)"$', r"^\.BR (?:-\w \", \" )?(--[a-z-]+)")
        self.assertIn("Logging", by_help)
        self.assertEqual(by_man, by_help)

    def test_version_matches(self):
        first_line = run([LOCALPROXY, "--version"]).stdout.splitlines()[0]
        version = first_line.split()[1]
        with open(MAN) as f:
            self.assertIn(f'"localproxy {version}"', f.read())

    @unittest.skipUnless(shutil.which("groff"), "groff not installed")
    def test_man_page_renders_without_warnings(self):
        r = run(["groff", "-man", "-Tutf8", "-ww", "-z", MAN])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")


class Install(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lp-install-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_install_prefix_has_binary_units_and_man_page(self):
        prefix = os.path.join(self.dir, "p")
        r = run(["cmake", "--install", BUILD, "--prefix", prefix])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        binary = os.path.join(prefix, "bin", "localproxy")
        self.assertIn("localproxy ", run([binary, "--version"]).stdout)
        unit = os.path.join(prefix, "lib", "systemd", "system", "localproxy@.service")
        with open(unit) as f:
            text = f.read()
        self.assertIn(f"ExecStart={binary} --config /etc/localproxy/%i.conf", text)
        for setting in ("Type=notify", "Restart=on-failure", "RestartPreventExitStatus=2 3", "DynamicUser=yes",
                        "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "CapabilityBoundingSet=\n",
                        "SystemCallFilter=@system-service", "LoadCredential=access-token:",
                        "ExecReload=kill -HUP $MAINPID"):
            self.assertIn(setting, text)
        self.assertTrue(os.path.isfile(os.path.join(prefix, "share", "man", "man1", "localproxy.1")))
        socket_example = os.path.join(prefix, "share", "doc", "localproxy", "examples", "localproxy@operator.socket")
        self.assertTrue(os.path.isfile(socket_example))

        if shutil.which("systemd-analyze"):
            # verify needs an instance; the socket example names localproxy@operator.service.
            units = os.path.join(self.dir, "units")
            os.mkdir(units)
            shutil.copy(unit, os.path.join(units, "localproxy@operator.service"))
            shutil.copy(socket_example, units)
            r = run(["systemd-analyze", "verify", "--man=no", "localproxy@operator.service",
                     "localproxy@operator.socket"], cwd=units)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "")
            r = run(["systemd-analyze", "security", "--offline=true", "--threshold=20", "localproxy@operator.service"],
                    cwd=units)
            score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
            self.assertTrue(score, r.stdout[-500:] + r.stderr)
            self.assertLessEqual(float(score.group(1)), 2.0)

    @unittest.skipUnless(shutil.which("cpack") and shutil.which("dpkg-shlibdeps"), "cpack or dpkg-dev missing")
    def test_deb_package_depends_on_the_libraries_it_links(self):
        # Packaged from an install copy of its own: cpack on the build directory would first build
        # its preinstall target (all of it), under the other tests running from that directory.
        stage = os.path.join(self.dir, "stage")
        r = run(["cmake", "--install", BUILD, "--prefix", "/usr", "--strip"], env=dict(os.environ, DESTDIR=stage))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", self.dir,
                 "-D", "CPACK_INSTALL_CMAKE_PROJECTS=", "-D", f"CPACK_INSTALLED_DIRECTORIES={stage};."],
                timeout=600, cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        debs = [f for f in os.listdir(self.dir) if f.endswith(".deb")]
        self.assertEqual(len(debs), 1, os.listdir(self.dir))
        deb = os.path.join(self.dir, debs[0])
        control = run(["dpkg-deb", "-f", deb]).stdout
        depends = re.search(r"^Depends: (.*)$", control, re.M).group(1)
        # Whatever is linked statically (LOCALPROXY_STATIC_LIBS) is no dependency; every shared
        # library the binary loads is.
        linked = run(["ldd", os.path.join(BUILD, "bin", "localproxy")]).stdout
        libraries = [line.split()[2] for line in linked.splitlines() if "=>" in line and "/" in line]
        linked_packages = set()
        for path in libraries:  # dpkg knows each by one name: under /lib or /usr/lib (merged /usr)
            owner = run(["dpkg", "-S", path])
            if owner.returncode != 0:
                owner = run(["dpkg", "-S", os.path.realpath(path)])
            self.assertEqual(owner.returncode, 0, owner.stderr)
            linked_packages.add(owner.stdout.split(":")[0])
        self.assertIn("libssl3", linked_packages)
        for package in sorted(linked_packages) + ["libsystemd0", "ca-certificates"]:
            self.assertIn(package, depends)
        files = run(["dpkg-deb", "-c", deb]).stdout
        for path in ("./usr/bin/localproxy", "./usr/lib/systemd/system/localproxy@.service",
                     "./usr/share/man/man1/localproxy.1"):
            self.assertIn(path, files)
        unit = subprocess.run(f"dpkg-deb --fsys-tarfile '{deb}' | tar -xO ./usr/lib/systemd/system/localproxy@.service",
                              shell=True, capture_output=True, text=True, timeout=60).stdout
        self.assertIn("ExecStart=/usr/bin/localproxy --config /etc/localproxy/%i.conf", unit)


if __name__ == "__main__":
    unittest.main()
