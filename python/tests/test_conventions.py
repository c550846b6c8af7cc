"""The conventions of NumPy users: the dtypes they pass."""

import numpy as np
import pytest

import aumann


@pytest.mark.parametrize(
    "dtype", [np.int64, np.int32, np.uint8, np.bool_, ">f8", ">i4", ">f4"]
)
def test_integer_boolean_and_big_endian_arrays_are_cast(dtype):
    # Values every dtype holds exactly, as float64 they are the reference.
    x = np.random.default_rng(6).integers(0, 2 if dtype is np.bool_ else 50, size=(3, 40, 2))
    ref = aumann.explain(x.astype(np.float64), "variance")
    ref32 = aumann.explain(x.astype(np.float32), "variance")
    a = aumann.explain(x.astype(dtype), "variance")
    if np.dtype(dtype).kind == "f":  # the width is kept: float32 stays float32 (precision)
        expected = ref32 if np.dtype(dtype).itemsize == 4 else ref
        assert a.summary["precision"] == ("f32" if np.dtype(dtype).itemsize == 4 else "f64")
    else:
        expected = ref
        assert a.summary["precision"] == "f64"
    np.testing.assert_array_equal(a.values, expected.values)
    np.testing.assert_array_equal(a.output, expected.output)
    reference = x.astype(np.float32 if np.dtype(dtype) == np.dtype(">f4") else np.float64)
    np.testing.assert_array_equal(
        aumann.evaluate(x.astype(dtype), "variance"), aumann.evaluate(reference, "variance")
    )


@pytest.mark.parametrize(
    "x,needles",
    [
        (np.ones((10, 3), dtype=np.complex128), ["complex128", "float32 or float64"]),
        (np.array([["a", "b"], ["c", "d"]]), ["<U1", "float32 or float64"]),
        (np.ones((10, 3), dtype=np.float16), ["float16", "integer and boolean"]),
        ([[1.0, 2.0], [3.0]], ["cannot be read as a NumPy array"]),
    ],
)
def test_other_dtypes_are_refused_naming_theirs(x, needles):
    with pytest.raises(aumann.InputError) as info:
        aumann.attribute(x, "variance")
    for needle in needles:
        assert needle in str(info.value)
