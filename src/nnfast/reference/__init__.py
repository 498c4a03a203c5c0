"""The book's algorithms in plain Python 3 and numpy: the oracle for every fast path.

Deliberately slow and literal (per example, as the book writes them); use them
to check results, never to train.
"""
