import pytest

from sfu_trio.signaling.ratelimit import TokenBucket


def test_seed_numbers_burst_then_refill() -> None:
    bucket = TokenBucket(20, 40)
    assert [bucket.allow(100.0) for _ in range(40)] == [True] * 40
    assert bucket.allow(100.0) is False
    # One second later exactly 20 more are allowed.
    assert [bucket.allow(101.0) for _ in range(20)] == [True] * 20
    assert bucket.allow(101.0) is False


def test_refill_is_continuous() -> None:
    bucket = TokenBucket(20, 40)
    for _ in range(40):
        bucket.allow(0.0)
    assert bucket.allow(0.04) is False  # 0.8 token
    assert bucket.allow(0.05) is True  # 0.8 + 0.2 = 1.0
    assert bucket.allow(0.05) is False


def test_refill_caps_at_burst() -> None:
    bucket = TokenBucket(20, 40)
    bucket.allow(0.0)
    results = [bucket.allow(1000.0) for _ in range(41)]
    assert results == [True] * 40 + [False]


def test_sustained_rate_is_respected() -> None:
    bucket = TokenBucket(20, 40)
    allowed = sum(bucket.allow(i * 0.01) for i in range(1000))  # 100 msg/s for 10 s
    assert allowed == 40 + 199  # burst + floor(20/s * 9.99 s)


def test_time_going_backwards_refills_nothing() -> None:
    bucket = TokenBucket(1, 1)
    assert bucket.allow(10.0) is True
    assert bucket.allow(5.0) is False
    assert bucket.allow(10.5) is False
    assert bucket.allow(11.0) is True


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 5), (1, 0)])
def test_invalid_parameters(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)
