"""The hook: the only code that touches mitmproxy's hooks and flows.

    addon.py            mitmproxy hooks -> the request pipeline, fail closed
    httplayer.py        request bodies limited, responses never; chunked trailers
    websocket_close.py  close a WebSocket with 1008 and the incident id
    respond.py          answer a flow: refusal, 407 challenge, masked rewrite
    connections.py      client connections bounded: head and idle deadlines, a cap
"""
