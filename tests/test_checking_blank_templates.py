"""A notebook template left as written (``def f(...): ...``, an @njit function with an empty
body, a class whose methods to fill are still ``...``) counts as "not answered yet"
(mxteach/course/checking.py: blank_is_unanswered). See notebook 10."""
from __future__ import annotations

from numba import njit

from mxteach.course.checking import Wrong, blank_is_unanswered, blank_template, exercise


def _template(x):
    """Docstring kept from the template."""
    ...


def _passes(x):
    pass


def _answered(x):
    return x + 1


@njit
def _njit_template(x, out):
    ...


class _Op:
    def forward(self):
        return 1

    def backward(self):
        ...


class _Done(_Op):
    def backward(self):
        return 2


def test_blank_template_tells_templates_from_answers():
    assert blank_template(_template) and blank_template(_passes)
    assert blank_template(_njit_template)
    assert not blank_template(_answered) and not blank_template(lambda x: x)
    assert blank_template(_Op, ("backward",)) and not blank_template(_Done, ("backward",))
    assert not blank_template(_Op)            # a class is blank only for named methods
    assert not blank_template([1, 2]) and not blank_template("text")


def test_blank_is_unanswered_wraps_a_check():
    @exercise("99.blank", "a test-only exercise")
    def body(fn):
        if fn(1) != 2:
            raise Wrong("fn(1) must be 2")
    try:
        check = blank_is_unanswered(body)
        assert "not answered yet" in check(_template).message
        assert not check(_template).passed
        assert check(_answered).passed
        assert "must be 2" in check(lambda x: x).message
        # without the wrapper the empty body is run and judged
        assert "not answered yet" not in body(_template).message
    finally:
        from mxteach.course import checking
        checking._EXERCISES.live.pop("99.blank", None)
