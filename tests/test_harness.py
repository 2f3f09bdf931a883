"""The harness reports failures by name with MicroPython's traceback."""

import harness


def test_parse_results_reports_failure_with_traceback():
    out = "@@START test_a\n@@PASS test_a\n@@START test_b\n@@FAIL test_b\nTraceback:\n  line 3\n@@END\n@@DONE\n"
    results = harness.parse_device_results(out, 0)
    assert results["test_a"] is None
    assert "line 3" in results["test_b"]


def test_parse_results_names_test_that_crashed_interpreter():
    results = harness.parse_device_results("@@START test_c\nSegmentation fault\n", -11)
    assert "stopped inside this test" in results["test_c"]
