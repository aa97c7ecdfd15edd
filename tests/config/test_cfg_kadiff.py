"""A fixed-seed slice of the differential config fuzzer (fuzz/config_diff.py, issue 16): 20
generated or mutated files per class (cfg_kadiff.CLASSES), each checked by keepalived 2.2.7 `-t`
in a namespace with lo and eth0 and by ours; the exit code and the (file, line) of the first
located message are compared. The counts of disagreements per class may not grow past what this
slice measured when it was written (a ratchet: lower MAX_EXIT/MAX_LINE as classes get fixed; the
long run's numbers are in fuzz/RESULTS.md). No check may hang or raise, and `pykeepalived -t`
must agree with the in-process result."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cfg_kadiff as K
import pytest
from cfg_netns import Netns

PER_CLASS = 20
SEED = 16_000

# class -> disagreements of the slice (exit code; exit code or first located line) at 81af2dd
MAX_EXIT: dict[str, int] = {"boundary": 2, "duplicated": 3, "missing": 1, "out_of_range": 2, "valid": 1,
                            "wrong_type": 3}
MAX_LINE: dict[str, int] = {"block_value": 2, "boundary": 3, "duplicated": 3, "extra": 1, "missing": 2, "mutation": 7,
                            "out_of_range": 2, "overlong": 1, "preprocessor": 7, "valid": 2, "wrong_type": 3}


@pytest.fixture(scope="module")
def table() -> K.Table:
    return K.Table(K.load_table())


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.slow
@pytest.mark.parametrize("cls", K.CLASSES)
def test_slice_agrees_with_keepalived(netns: Netns, table: K.Table, tmp_path: Path, cls: str) -> None:
    samples = K.sample_files()
    if cls == "mutation" and not samples:
        pytest.skip("shared keepalived samples not present")
    tmp_path.chmod(0o755)
    helpers = tmp_path / "helpers"
    K.prepare_helpers(samples, helpers)
    exit_bad, line_bad = [], []
    for k in range(PER_CLASS):
        seed = SEED + 1000 * K.CLASSES.index(cls) + k
        with tempfile.TemporaryDirectory(dir=tmp_path) as work:
            rec = K.check_case(netns.name, table, cls, seed, samples=samples, helpers=helpers, work=Path(work),
                               cli=k == 0)
        assert rec["ours"] not in ("hang", "traceback"), rec
        assert rec["ours_s"] < K.BUDGET and rec["real"] != "hang", rec
        if "cli" in rec:
            assert rec["cli_ok"], f"in-process and `pykeepalived -t` differ: {rec}"
        if rec["real"] in K.CRASHES or rec["loc_ok"]:
            continue
        text = (f"{cls}:{seed} keepalived {rec['real']} {rec['real_loc']}, ours {rec['ours']} {rec['ours_loc']}"
                f"\n{rec['files'][K.MAIN][:800]}\n-- keepalived:\n{rec['real_out'][:600]}\n-- ours:\n"
                f"{rec['ours_out'][:600]}")
        (line_bad if rec["exit_ok"] else exit_bad).append(text)
    n_exit, n_line = len(exit_bad), len(exit_bad) + len(line_bad)
    hint = f"(replay: fuzz/config_diff.py --case CLASS:SEED; measured {cls}: exit {n_exit}, line {n_line})\n"
    assert n_exit <= MAX_EXIT.get(cls, 0), hint + "\n".join(exit_bad[:3])
    assert n_line <= MAX_LINE.get(cls, 0), hint + "\n".join((exit_bad + line_bad)[:3])
