"""The epoch's order: nnfast's C shuffle equals the book's random.shuffle, state and all."""
import random

import numpy as np
import pytest

from nnfast import _core, _train


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 624, 625, 5000, 60000])
@pytest.mark.parametrize("seed", [0, 1, 2 ** 40 + 3])
def test_orders_and_generator_state_equal_random_shuffle(n, seed):
    random.seed(seed)
    [random.random() for _ in range(seed % 7)]     # start anywhere in the generator's block
    random.gauss(0, 1)                             # a pending gauss value must survive too
    state = random.getstate()
    book = list(range(n))
    for _ in range(3):
        random.shuffle(book)
    expected_after = (random.getstate(), random.random(), random.gauss(0, 1))
    random.setstate(state)
    shuffler = _train.Shuffler(n)
    for _ in range(3):
        order = shuffler.next_order()
    assert order.tolist() == book
    assert (random.getstate(), random.random(), random.gauss(0, 1)) == expected_after


def test_a_replaced_random_shuffle_is_still_the_one_used(monkeypatch):
    calls = []

    def reverse(x):
        calls.append(len(x))
        x.reverse()

    monkeypatch.setattr(random, "shuffle", reverse)
    assert not _train._native_shuffle_applies()
    order = _train.Shuffler(5).next_order()
    assert order.tolist() == [4, 3, 2, 1, 0] and calls == [5]


def test_list_data_left_in_the_books_order():
    data = [("x%d" % i, i) for i in range(50)]
    random.seed(3)
    book = list(data)
    random.shuffle(book)
    random.seed(3)
    shuffler = _train.Shuffler(50)
    shuffler.next_order()
    shuffler.apply_to(data)
    assert data == book


def test_bad_arguments():
    with pytest.raises(ValueError, match="int64"):
        _core.py_shuffle(np.arange(4, dtype=np.int32), random.getstate()[1])
    with pytest.raises(ValueError, match="625"):
        _core.py_shuffle(np.arange(4, dtype=np.int64), (1, 2, 3))
    with pytest.raises(ValueError, match="out of range"):
        _core.py_shuffle(np.arange(4, dtype=np.int64), (0,) * 624 + (700,))
