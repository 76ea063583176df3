"""The addon parses a request's Host header once per distinct value (s22): ``name_parts``'s
header host is mitmproxy's ``pretty_host`` and ``pretty_url`` is mitmproxy's
``Request.pretty_url``, for every Host header, request-target form and HTTP version. Breaks
loudly if mitmproxy changes either property (they are what the addon replaced)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import tflow

from proxy.hook import addon

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True)

HOST_HEADERS = st.one_of(
    st.sampled_from(["api.example.com", "API.Example.com:8443", "127.0.0.1:8080", "[::1]:443",
                     "[2001:db8::1]", "xn--fiqs8s.example", "例子.测试", "bad host:99999",
                     "a:b:c", "host:", ":80", "host:0", "x.example.com.:443", " spaced "]),
    st.text(alphabet="abcXYZ019.-:[]_ 例", max_size=24),
)
PATHS = st.sampled_from(["/", "/api/orders?x=1", "*", "/a%20b", ""])


def request(host_header: str | None, path: str, scheme: str, version: str,
            form: str) -> http.Request:
    req = http.Request.make("POST", f"{scheme}://origin.example:8000/", b"")
    req.http_version = version
    req.path = path
    if form == "authority":
        req.method = "CONNECT"
        req.authority = "connect.example:443"
    elif form == "absolute":
        req.authority = "absolute.example:8080"
    if host_header is None:
        req.headers.pop("Host", None)
        if version.startswith("HTTP/2"):
            req.authority = ""
    elif version.startswith("HTTP/2"):
        req.authority = host_header
    else:
        req.headers["Host"] = host_header
    return req


@SETTINGS
@given(st.none() | HOST_HEADERS, PATHS, st.sampled_from(["http", "https"]),
       st.sampled_from(["HTTP/1.1", "HTTP/2.0"]),
       st.sampled_from(["relative", "absolute", "authority"]))
def test_pretty_url_is_mitmproxys(host_header, path, scheme, version, form):
    req = request(host_header, path, scheme, version, form)
    assert addon.pretty_url(req) == req.pretty_url
    assert addon.pretty_url(req) == req.pretty_url  # the remembered parse too


@SETTINGS
@given(st.none() | HOST_HEADERS, st.sampled_from(["HTTP/1.1", "HTTP/2.0"]))
def test_name_parts_host_is_pretty_host(host_header, version):
    flow = tflow.tflow()
    flow.request = request(host_header, "/", "https", version, "relative")
    sni, header, host = addon.name_parts(flow)
    assert (sni, host) == (flow.client_conn.sni, flow.request.host)
    assert header == (flow.request.pretty_host if flow.request.host_header else None)


def test_the_remembered_hosts_stay_few():
    for i in range(300):
        addon.authority(f"h{i}.example:{1000 + i}")
    assert 0 < len(addon._AUTHORITIES) <= 256
    assert addon.authority("h299.example:1299") == ("h299.example", 1299)
