"""qqbus.action.result with a continuation: a query's answer (or why it failed) runs its step."""

from qqbus import example_commands  # noqa: F401  (registers the example steps: /whois's answer)
from qqbus.queries import Answer, answers


@answers
def lambda_handler(ev: Answer, context: object) -> None:
    ev.resume()
