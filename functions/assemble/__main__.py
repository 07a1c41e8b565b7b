"""The assemble function for DigitalOcean Functions (`memplane bundle` copies this next to the library)."""

from typing import Any

from memplane.platform.digitalocean import respond


# Not decorated, on purpose: the runtime dispatches on main's argument count.
def main(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return respond("assemble", event, context)
