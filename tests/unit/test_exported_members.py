import types

import stratus


def test_all_names_are_exported_and_nothing_more() -> None:
    public = {n for n in dir(stratus) if not n.startswith("_")
              and not isinstance(getattr(stratus, n), types.ModuleType)}
    assert set(stratus.__all__) == public
    assert stratus.__all__ == sorted(stratus.__all__)
