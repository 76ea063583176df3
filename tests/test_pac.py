"""proxy/observe/pac.py: the rendered PAC file, run by a real JavaScript engine (node).

Browsers give PAC files a few helper functions; the shim below implements the ones our template
uses the way Mozilla's pac_utils.js does (dnsDomainIs is a suffix test, shExpMatch a shell glob
over the whole string, isInNet a masked comparison).
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from proxy.errors import BaomiError, UsageError
from proxy.observe.pac import TEMPLATE, parse_direct_hosts, render_pac

PROXY = "PROXY baomi.corp.example.com:8080"
DIRECT_HOSTS = [
    ".corp.example.com",
    "Wiki.Example.NET.",
    "*.intra",
    "build-??.example.org",
    "10.0.0.0/8",
    "192.168.1.0/24",
]

SHIM = r"""
const fs = require("fs"), vm = require("vm");
const [pacPath, casesJson] = process.argv.slice(-2);
function ip(s) { return s.split(".").reduce((a, o) => a * 256 + Number(o), 0); }
const sandbox = {
  isPlainHostName: (h) => h.indexOf(".") < 0,
  dnsDomainIs: (h, d) => h.length >= d.length && h.substring(h.length - d.length) === d,
  shExpMatch: (s, p) => new RegExp("^" + p.replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*").replace(/\?/g, ".") + "$").test(s),
  isInNet: (h, net, mask) => ((ip(h) & ip(mask)) >>> 0) === ((ip(net) & ip(mask)) >>> 0),
  dnsResolve: () => { throw new Error("the PAC must not resolve names"); },
};
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(pacPath, "utf8"), sandbox, { filename: pacPath });
const out = {};
for (const url of JSON.parse(casesJson)) {
  out[url] = sandbox.FindProxyForURL(url, new URL(url).hostname);
}
console.log(JSON.stringify(out));
"""

CASES = {
    "https://api.openai.com/v1/chat": PROXY,
    "http://example.com/": PROXY,
    "https://intranet/": "DIRECT",  # plain host name
    "http://localhost:8000/": "DIRECT",
    "https://corp.example.com/": "DIRECT",  # the domain itself
    "https://hr.corp.example.com/x": "DIRECT",
    "https://a.b.corp.example.com/": "DIRECT",
    "https://evilcorp.example.com/": PROXY,  # suffix without the dot is not the domain
    "https://corp.example.com.attacker.net/": PROXY,
    "https://wiki.example.net/": "DIRECT",
    "https://www.wiki.example.net/": PROXY,  # exact host: subdomains not included
    "https://git.intra/": "DIRECT",
    "https://build-01.example.org/": "DIRECT",
    "https://build-001.example.org/": PROXY,
    "http://10.20.30.40/": "DIRECT",
    "http://11.0.0.1/": PROXY,
    "http://192.168.1.77/": "DIRECT",
    "http://192.168.2.1/": PROXY,
    "https://HR.CORP.EXAMPLE.COM/": "DIRECT",
}


def run_pac(pac: str, tmp_path: Path, urls) -> dict[str, str]:
    path = tmp_path / "proxy.pac"
    path.write_text(pac)
    done = subprocess.run(
        ["node", "-e", SHIM, "--", str(path), json.dumps(list(urls))],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="node missing (tests/deps/deploy.txt)")
def test_pac_routes_sample_urls(tmp_path):
    results = run_pac(render_pac("baomi.corp.example.com", 8080, DIRECT_HOSTS), tmp_path, CASES)
    assert results == CASES


@pytest.mark.skipif(shutil.which("node") is None, reason="node missing (tests/deps/deploy.txt)")
def test_pac_without_direct_hosts_sends_everything_but_local_through_baomi(tmp_path):
    results = run_pac(
        render_pac("198.18.0.1", 3128, []),
        tmp_path,
        ["https://corp.example.com/", "http://10.0.0.1/", "http://localhost/"],
    )
    assert list(results.values()) == ["PROXY 198.18.0.1:3128"] * 2 + ["DIRECT"]


def test_pac_fails_closed_without_direct_fallback():
    pac = render_pac("baomi.example.com", 8080, [])
    assert 'var BAOMI = "PROXY baomi.example.com:8080";' in pac
    code = "\n".join(line for line in pac.splitlines() if not line.lstrip().startswith("//"))
    assert "DIRECT" not in code.split("var BAOMI")[1].split(";")[0]
    assert "dnsResolve(" not in code


@pytest.mark.parametrize(
    "host,rendered",
    [
        ("Baomi.Example.com.", "baomi.example.com"),
        ("198.18.0.1", "198.18.0.1"),
        ("fd18::1", "[fd18::1]"),
        ("[fd18::1]", "[fd18::1]"),
    ],
)
def test_proxy_host_forms(host, rendered):
    assert f'"PROXY {rendered}:8080"' in render_pac(host, 8080, [])


@pytest.mark.parametrize(
    "host,port,direct",
    [
        ('evil";alert(1);"', 8080, []),
        ("", 8080, []),
        ("host_name.example", 8080, []),
        ("baomi", 0, []),
        ("baomi", 65536, []),
        ("baomi", "8080", []),
        ("baomi", True, []),
        ("baomi", 8080, ['x"];alert(1);//']),
        ("baomi", 8080, ["10.0.0.1/8"]),  # host bits set
        ("baomi", 8080, ["fd00::/8"]),  # PAC isInNet is IPv4 only
        ("baomi", 8080, [".*"]),
        ("baomi", 8080, ["*"]),  # would send everything DIRECT
        ("baomi", 8080, ["*.*"]),
        ("baomi", 8080, [""]),
        ("baomi", 8080, ".corp.example.com"),  # a string, not a list
    ],
)
def test_bad_arguments_are_refused(host, port, direct):
    with pytest.raises(UsageError):
        render_pac(host, port, direct)


def test_direct_hosts_are_sorted_by_kind():
    rules = parse_direct_hosts(DIRECT_HOSTS)
    assert rules.domains == (".corp.example.com",)
    assert rules.patterns == ("wiki.example.net", "*.intra", "build-??.example.org")
    assert rules.nets == (("10.0.0.0", "255.0.0.0"), ("192.168.1.0", "255.255.255.0"))


def test_missing_template_is_an_error(tmp_path):
    with pytest.raises(BaomiError, match="PAC template unreadable"):
        render_pac("baomi", 8080, [], template=tmp_path / "nope.pac")


def test_shipped_template_has_only_known_placeholders():
    assert TEMPLATE.is_file()
    render_pac("baomi", 8080, DIRECT_HOSTS)  # string.Template.substitute raises on unknown ones
