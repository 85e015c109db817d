from tests.layers import violations


def test_layers_respect_the_import_contract() -> None:
    assert violations() == []
