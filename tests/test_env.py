"""The recorded environment tells apart CPUs that share a marketing name."""

from __future__ import annotations

import builtins
import io

from seqbench import env

CPUINFO = """processor\t: 0
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
stepping\t: 1
microcode\t: 0x1000065
cache size\t: 512 KB
flags\t\t: sse avx2 fma

processor\t: 1
model\t\t: 99
flags\t\t: sse
"""


def _with_cpuinfo(monkeypatch, text: str) -> dict:
    real_open = builtins.open

    def fake_open(path, *args, **kwargs):
        if path == "/proc/cpuinfo":
            return io.StringIO(text)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    return env.cpu_signature()


def test_two_epycs_differ_in_model_number_and_flags(monkeypatch):
    first = _with_cpuinfo(monkeypatch, CPUINFO)
    assert first["cpu_family"] == "25" and first["cpu_model_number"] == "1"  # processor 0's
    assert first["cpu_microcode"] == "0x1000065" and first["cpu_cache_size"] == "512 KB"
    other = _with_cpuinfo(
        monkeypatch, CPUINFO.replace("avx2 fma", "fma").replace(": 1\n", ": 17\n", 1)
    )
    assert other["cpu_model_number"] == "17"
    assert other["cpu_flags_digest"] != first["cpu_flags_digest"]
    # The flags' order does not matter, only the set.
    same = _with_cpuinfo(monkeypatch, CPUINFO.replace("sse avx2 fma", "fma sse avx2"))
    assert same["cpu_flags_digest"] == first["cpu_flags_digest"]


def test_no_cpuinfo_leaves_the_fields_empty(monkeypatch):
    def missing(path, *args, **kwargs):
        raise OSError("no /proc")

    monkeypatch.setattr(builtins, "open", missing)
    assert set(env.cpu_signature().values()) == {None}
