"""What central can tell of a day from its stored events: where every sealed bag is
(`bags.py`), the end-of-day reconciliation report (`day.py`: csv, json, pdf)."""
