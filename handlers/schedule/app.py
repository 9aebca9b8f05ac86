"""qqbus.schedule: a schedule came due (a /remind, a recurring job): its step runs, once."""

from qqbus import example_commands  # noqa: F401  (registers the example steps: /remind, the heartbeat)
from qqbus.schedules import Fired, scheduled


@scheduled
def lambda_handler(ev: Fired, context: object) -> None:
    ev.resume()
