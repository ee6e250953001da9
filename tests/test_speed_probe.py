from llmbench.measure.speed_probe import SPEED_BAND, probe_ms, speed_off


def test_the_probe_times_its_workload_in_milliseconds():
    first, second = probe_ms(), probe_ms()
    assert 0 < first < 1000 and 0 < second < 1000


def test_a_machine_within_the_band_is_the_same_machine():
    assert speed_off(10.0, 10.0) is None
    assert speed_off(10.0 * SPEED_BAND * 0.99, 10.0) is None
    assert speed_off(10.0 / SPEED_BAND * 1.01, 10.0) is None


def test_a_machine_off_the_band_either_way_says_how_far():
    slower = speed_off(26.0, 10.0)
    faster = speed_off(5.0, 10.0)
    assert slower is not None and "2.60x slower" in slower and "26.0 ms" in slower
    assert faster is not None and "2.00x faster" in faster


def test_no_reference_means_nothing_to_say():
    assert speed_off(26.0, None) is None
    assert speed_off(26.0, 0.0) is None
