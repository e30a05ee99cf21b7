import pytest

from continuum.errors import ExpressionError
from continuum.world import parse_expr


def test_whitespace_and_parentheses_do_not_change_the_tree():
    assert parse_expr("prev+1.0*dt").tree == parse_expr(" prev + (1.0 * dt) ").tree


def test_ints_and_floats_are_the_same_constant_but_values_differ():
    assert parse_expr("2").tree == parse_expr("2.0").tree
    assert parse_expr("2.0").tree != parse_expr("2.5").tree


def test_numbers_are_accepted_as_constants():
    assert parse_expr(3.5).tree == ("num", 3.5)


def test_chained_comparison_becomes_and():
    tree = parse_expr("0.0 < x < 1.0").tree
    assert tree[0] == "bool" and tree[1] == "and" and len(tree[2]) == 2


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("__import__('os').system('touch /tmp/pwned')", "forbidden"),
        ("().__class__", "forbidden construct: attribute access"),
        ("core.__class__", "names starting with '_'"),
        ("lambda: 1", "lambda"),
        ("[x for x in y]", "comprehension"),
        ("a[0]", "subscript"),
        ("f'{a}'", "f-string"),
        ("maths.sin(x=1)", "keyword arguments"),
        ("'text'", "only numbers"),
        ("(x := 1)", "assignment expression"),
        ("open('f').read()", "attribute access"),
        ("1 +", "syntax error"),
        ("a is b", "forbidden comparison"),
    ],
)
def test_forbidden_and_malformed_expressions_are_rejected(source, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(")):
        parse_expr(source)


def test_names_lists_dotted_reads_not_function_names():
    expr = parse_expr("prev + maths.sin(core.temp) * mean(cell.temperature)")
    assert expr.names() == {"prev", "core.temp", "cell.temperature"}
