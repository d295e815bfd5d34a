"""Evaluates the condition of a Cerbos PlanResources answer against one concrete resource, the way a database
evaluates the query an ORM adapter builds from it, so that the plan can be compared with CheckResources.

The operand tree is Cerbos's REST shape: {"expression": {"operator", "operands"}}, {"variable"}, {"value"}.
Evaluation follows CEL: a missing attribute or a type mismatch is an error; `and` is false if any operand is
false, `or` true if any is true, and an error otherwise propagates; an error at the top means not allowed.
Arithmetic on numbers is not evaluated: the JSON of a plan cannot tell an int literal from a double, and CEL
refuses to mix them, so such plans are reported as unsupported rather than guessed. Timestamps and durations are
(comparisons, timestamp ± duration, timestamp − timestamp).
"""

import re
from datetime import datetime, timedelta


class Unsupported(Exception):
    """The plan uses an operator or variable this evaluator does not know; the comparison is skipped."""


class _Error:
    """A CEL evaluation error (missing attribute, wrong type)."""

    def __repr__(self):
        return "<error>"


ERROR = _Error()
RESOURCE_ATTR = "request.resource.attr."


def allowed(filter_answer, resource):
    """Whether a plan's filter ({"kind", "condition"}) lets `resource` through."""
    kind = filter_answer.get("kind")
    if kind == "KIND_ALWAYS_ALLOWED":
        return True
    if kind == "KIND_ALWAYS_DENIED":
        return False
    if kind != "KIND_CONDITIONAL":
        raise Unsupported(f"plan kind {kind!r}")
    return evaluate(filter_answer["condition"], resource) is True


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same_type(left, right):
    if is_number(left) and is_number(right):
        return True
    return type(left) is type(right)


def equal(left, right):
    if left is ERROR or right is ERROR:
        return ERROR
    if is_number(left) and is_number(right):
        return float(left) == float(right)
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(equal(a, b) is True for a, b in zip(left, right))
    return left == right


def compare(operator, left, right):
    if left is ERROR or right is ERROR or not same_type(left, right) or isinstance(left, (list, dict, bool)):
        return ERROR
    return {"lt": left < right, "le": left <= right, "gt": left > right, "ge": left >= right}[operator]


def evaluate(operand, resource):
    if "value" in operand:
        return operand["value"]
    if "variable" in operand:
        name = operand["variable"]
        if name.startswith(RESOURCE_ATTR):
            attr = resource.get("attr", {})
            key = name[len(RESOURCE_ATTR) :]
            if "." in key:
                raise Unsupported(f"variable {name}")
            return attr[key] if key in attr else ERROR
        if name == "request.resource.id":
            return resource["id"]
        raise Unsupported(f"variable {name}")
    expression = operand["expression"]
    operator = expression["operator"]
    args = expression["operands"]
    if operator == "and":
        values = [evaluate(a, resource) for a in args]
        if any(v is False for v in values):
            return False
        return ERROR if any(v is not True for v in values) else True
    if operator == "or":
        values = [evaluate(a, resource) for a in args]
        if any(v is True for v in values):
            return True
        return ERROR if any(v is not False for v in values) else False
    if operator == "not":
        value = evaluate(args[0], resource)
        return ERROR if not isinstance(value, bool) else not value
    if operator == "list":
        return [evaluate(a, resource) for a in args]
    values = [evaluate(a, resource) for a in args]
    if operator == "eq":
        return equal(values[0], values[1])
    if operator == "ne":
        result = equal(values[0], values[1])
        return result if result is ERROR else not result
    if operator in ("lt", "le", "gt", "ge"):
        return compare(operator, values[0], values[1])
    if any(v is ERROR for v in values):
        return ERROR
    if operator == "in":
        item, collection = values
        if not isinstance(collection, list):
            return ERROR
        return any(equal(item, element) is True for element in collection)
    if operator in ("hasIntersection", "intersect", "except", "isSubset"):
        left, right = values
        if not isinstance(left, list) or not isinstance(right, list):
            return ERROR
        if operator == "hasIntersection":
            return any(equal(a, b) is True for a in left for b in right)
        if operator == "isSubset":
            return all(any(equal(a, b) is True for b in right) for a in left)
        if operator == "intersect":
            return [a for a in left if any(equal(a, b) is True for b in right)]
        return [a for a in left if not any(equal(a, b) is True for b in right)]
    if operator == "timestamp":
        [text] = values
        return parse_timestamp(text) if isinstance(text, str) else ERROR
    if operator == "duration":
        [text] = values
        return parse_duration(text) if isinstance(text, str) else ERROR
    if operator in ("add", "sub"):
        return time_arithmetic(operator, *values)
    if operator == "size":
        [value] = values
        return len(value) if isinstance(value, (str, list, dict)) else ERROR
    if operator in ("startsWith", "endsWith", "contains", "matches"):
        text, argument = values
        if not isinstance(text, str) or not isinstance(argument, str):
            return ERROR
        if operator == "startsWith":
            return text.startswith(argument)
        if operator == "endsWith":
            return text.endswith(argument)
        if operator == "contains":
            return argument in text
        return re.search(argument, text) is not None
    raise Unsupported(f"operator {operator}")


DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms|us|ns)")
DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def parse_timestamp(text):
    """An RFC 3339 timestamp, as CEL's timestamp() reads it; anything else is an error."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", text):
        return ERROR
    return datetime.fromisoformat(text)


def parse_duration(text):
    """A Go-style duration ("1h30m", "45s"), as CEL's duration() reads it; anything else is an error."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    parts = DURATION_PART.findall(body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        return ERROR
    return timedelta(seconds=sign * sum(float(number) * DURATION_UNITS[unit] for number, unit in parts))


def time_arithmetic(operator, left, right):
    if isinstance(left, datetime) and isinstance(right, timedelta):
        return left + right if operator == "add" else left - right
    if operator == "add" and isinstance(left, timedelta) and isinstance(right, datetime):
        return right + left
    if isinstance(left, timedelta) and isinstance(right, timedelta):
        return left + right if operator == "add" else left - right
    if operator == "sub" and isinstance(left, datetime) and isinstance(right, datetime):
        return left - right
    if isinstance(left, (datetime, timedelta)) or isinstance(right, (datetime, timedelta)):
        return ERROR
    raise Unsupported(f"operator {operator} on numbers")
