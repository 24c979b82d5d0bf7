"""Demo mode (ADELIE_DEMO=1, set only by `make demo` and `make demo-ui`): every KRX and OpenAI call
must reach the fakes on 127.0.0.1, never the real services.

`check_endpoints()` runs wherever a demo process could call out: when the demo code location loads
(adelie_fakes/demo_definitions.py: its code server and every run worker load it) and when the demo
instance's run coordinator accepts a run. It fails loudly, naming the variable to fix. The shipped
package knows nothing of the demo.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

DEMO_ENV = "ADELIE_DEMO"
DEMO_LABEL = "DEMO DATA - synthetic KRX quotes from the fake KRX, cases from the fake LLM. Not market facts."
DEMO_RUN_TAG = "adelie/demo"
# The variables that point the resources at a service, and the service each one names.
ENDPOINTS = {"ADELIE_KRX_URL": "KRX", "OPENAI_BASE_URL": "OpenAI"}
LOOPBACK = "127.0.0.1"


class DemoEndpointError(RuntimeError):
    """A demo process would reach something other than the fakes on 127.0.0.1."""


def is_demo(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get(DEMO_ENV, "") == "1"


def resolved_addresses(url: str) -> set[str]:
    """Every address the URL's host resolves to (what a client could connect to)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise DemoEndpointError(f"{url!r} has no host name.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise DemoEndpointError(f"{parts.hostname!r} does not resolve ({exc}).") from None
    return {str(info[4][0]) for info in infos}


def check_url(url: str, what: str) -> None:
    """Raise unless `url`'s host resolves to 127.0.0.1 and nothing else."""
    try:
        addresses = resolved_addresses(url)
    except DemoEndpointError as exc:
        raise DemoEndpointError(f"Demo mode: {what} at {url!r}: {exc}") from None
    if addresses != {LOOPBACK}:
        raise DemoEndpointError(
            f"Demo mode: {what} at {url!r} resolves to {', '.join(sorted(addresses))}, not only "
            f"{LOOPBACK}: a demo process talks only to the fakes. Start the demo with `make demo-ui`."
        )


def check_endpoints(env: Mapping[str, str] | None = None, *, require_demo: bool = False) -> None:
    """In demo mode, raise unless KRX and OpenAI both point at 127.0.0.1. With `require_demo`, also
    raise when demo mode is off (the demo instance, used without the playground's fakes)."""
    env = os.environ if env is None else env
    if not is_demo(env):
        if require_demo:
            raise DemoEndpointError(
                f"This is the demo instance, but {DEMO_ENV}=1 is not set: its runs would reach the real "
                "KRX and OpenAI. Open it with `make demo-ui`, which starts the fakes next to it."
            )
        return
    for name, service in ENDPOINTS.items():
        url = env.get(name, "").strip()
        if not url:
            raise DemoEndpointError(
                f"Demo mode ({DEMO_ENV}=1) with {name} unset: the real {service} would be called. "
                f"Set {name} to the fake's URL on {LOOPBACK} (make demo-ui does)."
            )
        check_url(url, service)


def labelled(defs: Any) -> Any:
    """The code location with every asset labelled as demo (its definition metadata and a tag, on
    each asset's page)."""
    return defs.map_asset_specs(
        func=lambda spec: spec.merge_attributes(
            metadata={"adelie/demo": DEMO_LABEL}, tags={DEMO_RUN_TAG: "true"}
        )
    )
