"""Make moto quicker for tests and long local runs, without changing what it answers.

- moto parses the same eight JSONPath expressions (its default input template) for every event
  it delivers to a target; ``jsonpath_ng`` builds a parser table each time, about 6 ms an event.
  The parse is a pure function of the expression, so caching it changes nothing but the time.
- ``mock_aws`` sets ``boto3.DEFAULT_SESSION`` aside, so the first client under each mock makes a
  new botocore session, and each new session reads endpoints.json and the service models from
  disk again (about 140 ms for three clients). One loader shared by every session reads each
  file once; within one session botocore already shares that loader between its clients.
- moto's server finds the backend of each request by listing its own package folder and
  testing every entry with ``isdir`` (about 150 of them): several ms a request, most of the
  local stack's CPU. The folder does not change while the process runs; list it once.
- moto's SQS checks each message it hands out against its queue's retention period by building
  every attribute of the queue three times, counting the queue's messages each time: quadratic
  in the backlog (a burst of 400 events spent most of the local stack's CPU there). The period
  is an attribute of the queue; read it.
- moto's SQS reads the clock through ``datetime`` arithmetic (``unix_time``: about 1.5 us) for
  every message it looks at, several times a message for each send (the queue's attributes
  count its visible, delayed and in-flight messages) and receive. ``time.time()`` reads the
  same clock in a twentieth of that.
- For every request moto lists the methods of the service's response class with
  ``inspect.getmembers``, and for every node of an update expression, in each of ten passes, it
  builds the tuple of node types the pass handles: both are fixed per class. Keep them.
- moto parses an UpdateItem's update expression twice (its request check, then the update) and
  deep-copies the tree before each validation: about 0.5 ms a write for the same few strings.
  The parse is kept per expression string as a pickle, so each caller still gets a tree of its
  own; the validators' copy of a tree is a pickle round trip, three times quicker than
  ``deepcopy`` for the same result.
- Its check that an update has one SET, one REMOVE and one ADD clause at most recounts the
  subtree of every node of the tree (quadratic, with an ABC ``isinstance`` per step); the
  counts are added up in one pass instead, raising at the same node with the same error.
- A condition expression's tokens (the lexing, half of its parse) depend on the string alone
  and are kept per string; names and values are still read for each request.
"""

from __future__ import annotations

import copy
import functools
import pickle
import time
from collections import deque
from typing import Any


def cache_jsonpath_parsing() -> None:
    try:
        import jsonpath_ng.ext
    except ImportError:  # moto without its events extra: nothing to speed up
        return
    if not hasattr(jsonpath_ng.ext.parse, "cache_info"):
        jsonpath_ng.ext.parse = functools.lru_cache(maxsize=512)(jsonpath_ng.ext.parse)


def share_botocore_loader() -> None:
    """Every botocore session of this process uses one data loader per data path."""
    import botocore.loaders
    import botocore.session

    if not hasattr(botocore.session.create_loader, "cache_info"):
        botocore.session.create_loader = functools.lru_cache(maxsize=8)(botocore.loaders.create_loader)


def cache_moto_module_list() -> None:
    """``moto.backends.list_of_moto_modules`` read from disk once, not on every request."""
    try:
        from moto import backends
    except ImportError:
        return
    if hasattr(backends.list_of_moto_modules, "cache_info"):
        return
    listing = backends.list_of_moto_modules

    @functools.cache
    def list_of_moto_modules() -> tuple[str, ...]:
        return tuple(listing())

    backends.list_of_moto_modules = list_of_moto_modules


def quick_sqs_retention_check() -> None:
    """moto's per-message retention check reads the queue's period, not all of its attributes."""
    try:
        from moto.sqs import models
        from moto.sqs.models import Message, SQSBackend
    except ImportError:
        return
    if getattr(SQSBackend.is_message_valid_based_on_retention_period, "qqbus_quick", False):
        return

    def is_message_valid_based_on_retention_period(
        self: SQSBackend, queue_name: str, message: Message
    ) -> bool:
        period: int = self.get_queue(queue_name).message_retention_period  # type: ignore[attr-defined]
        # The clock SQS stamps its messages with (``quick_sqs_clock`` may have made it quicker).
        return bool(period + message.sent_timestamp / 1000 > models.unix_time())  # type: ignore[operator]

    is_message_valid_based_on_retention_period.qqbus_quick = True  # type: ignore[attr-defined]
    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]


def quick_sqs_clock() -> None:
    """moto's SQS reads the time with ``time.time()``, not through ``datetime``."""
    try:
        from moto.sqs import models
    except ImportError:
        return
    if getattr(models.unix_time, "qqbus_quick", False):
        return
    slow_seconds, slow_millis = models.unix_time, models.unix_time_millis

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else slow_seconds(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else slow_millis(dt)

    unix_time.qqbus_quick = unix_time_millis.qqbus_quick = True  # type: ignore[attr-defined]
    models.unix_time, models.unix_time_millis = unix_time, unix_time_millis


def cache_per_class_lookups() -> None:
    """moto's per-request method listing and per-node type tuples, computed once per class."""
    try:
        from moto.core import responses
        from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]
    except ImportError:
        return
    if not hasattr(responses.method_names_from_class, "cache_info"):
        responses.method_names_from_class = functools.cache(responses.method_names_from_class)  # type: ignore[assignment]
    if getattr(DepthFirstTraverser.nodes_to_be_processed, "qqbus_cached", False):
        return
    kinds_of: dict[type, tuple[type, ...]] = {}

    def nodes_to_be_processed(self: DepthFirstTraverser) -> tuple[type, ...]:
        kinds = kinds_of.get(type(self))
        if kinds is None:  # each pass's _processing_map is a literal dict: its keys are its class's
            kinds = kinds_of[type(self)] = tuple(self._processing_map())
        return kinds

    nodes_to_be_processed.qqbus_cached = True  # type: ignore[attr-defined]
    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed  # type: ignore[method-assign]


def reuse_update_expression_parses() -> None:
    """moto's update-expression parse kept per string; its validators copy trees by pickle."""
    try:
        from moto.dynamodb.parsing import validators
        from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    except ImportError:
        return
    if getattr(UpdateExpressionParser.make, "qqbus_cached", False):
        return
    parse = UpdateExpressionParser.make

    @functools.lru_cache(maxsize=256)
    def pickled(expression: str) -> bytes | None:
        tree = parse(expression)  # a refused expression raises, each time: errors are not kept
        try:
            return pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            return None  # not picklable (a future moto): parse it each time, as moto does

    def make(cls: type, expression_str: str) -> Any:
        kept = pickled(expression_str)
        return parse(expression_str) if kept is None else pickle.loads(kept)

    def tree_copy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Node) and memo is None:
            try:
                return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            except (pickle.PicklingError, TypeError, AttributeError):
                pass
        return copy.deepcopy(value, memo)

    make.qqbus_cached = True  # type: ignore[attr-defined]
    make.pickled = pickled  # type: ignore[attr-defined]
    UpdateExpressionParser.make = classmethod(make)  # type: ignore[method-assign,assignment]
    validators.deepcopy = tree_copy  # type: ignore[assignment]


def count_update_clauses_once() -> None:
    """moto's one-clause-of-each-kind check of an update expression in a single pass."""
    try:
        from moto.dynamodb.exceptions import TooManyClauses
        from moto.dynamodb.parsing import ast_nodes
        from moto.dynamodb.parsing.validators import ActionCountValidator
    except ImportError:
        return
    ast: Any = ast_nodes  # untyped (the module opts out of type checking)
    if getattr(ActionCountValidator.traverse, "qqbus_single_pass", False):
        return
    kinds = {  # the order moto checks them in: the first one doubled is the one reported
        ast.UpdateExpressionAddClause: "ADD",
        ast.UpdateExpressionRemoveClause: "REMOVE",
        ast.UpdateExpressionSetClause: "SET",
    }
    searched = (ast.Expression, ast.UpdateExpressionFunction)  # what ``find_clauses`` descends into

    def clauses(node: Any) -> dict[type, int]:
        """``node.find_clauses(kinds)`` as counts, checked bottom-up at every node as moto does."""
        found = dict.fromkeys(kinds, 0)
        for child in node.children or ():
            if not isinstance(child, ast.Node):
                continue
            below = clauses(child)  # every node is visited, as moto's traversal does
            if type(child) in found:
                found[type(child)] += 1
            elif isinstance(child, searched):
                for kind, n in below.items():
                    found[kind] += n
        if isinstance(node, ast.UpdateExpression):
            for kind, name in kinds.items():
                if found[kind] > 1:
                    raise TooManyClauses(name)
        return found

    def traverse(self: Any, node: Any) -> Any:
        if isinstance(node, ast.Node):
            clauses(node)
        return node

    traverse.qqbus_single_pass = True  # type: ignore[attr-defined]
    ActionCountValidator.traverse = traverse  # type: ignore[method-assign]


def keep_condition_tokens() -> None:
    """moto's lexing of a condition expression kept per string (each parse gets fresh nodes)."""
    try:
        from moto.dynamodb.comparisons import ConditionExpressionParser
    except ImportError:
        return
    lex = ConditionExpressionParser._lex_condition_expression
    if getattr(lex, "qqbus_kept", False):
        return

    node: Any = ConditionExpressionParser.Node  # a namedtuple: built directly (``_replace`` is slow)

    @functools.lru_cache(maxsize=256)
    def tokens(expression: str) -> tuple[Any, ...]:
        return tuple(lex(ConditionExpressionParser(expression, {}, {})))

    def lex_condition_expression(self: Any) -> Any:
        # Fresh nodes with fresh (empty) child lists: the later passes build on them.
        return deque([node(*n[:4], list(n.children)) for n in tokens(self.condition_expression)])

    lex_condition_expression.qqbus_kept = True  # type: ignore[attr-defined]
    lex_condition_expression.original = lex  # type: ignore[attr-defined]
    ConditionExpressionParser._lex_condition_expression = lex_condition_expression  # type: ignore[method-assign]


def speed_up_moto() -> None:
    """Every speed-up above that changes how quickly moto answers (its server and its mocks)."""
    cache_jsonpath_parsing()
    cache_moto_module_list()
    cache_per_class_lookups()
    quick_sqs_retention_check()
    quick_sqs_clock()
    reuse_update_expression_parses()
    count_update_clauses_once()
    keep_condition_tokens()
