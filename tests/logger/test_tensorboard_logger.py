"""TBXLoggerCallback, read back with TensorBoard's own reader and its HParams plugin."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from overtone import tune
from overtone.logger import TBXLoggerCallback, _tfevents

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2  # noqa: E402


def _accumulator(path: str) -> EventAccumulator:
    acc = EventAccumulator(path, size_guidance={"scalars": 0, "tensors": 0, "histograms": 0})
    acc.Reload()
    return acc


def _hparams(acc: EventAccumulator) -> dict[str, plugin_data_pb2.HParamsPluginData]:
    return {
        tag: plugin_data_pb2.HParamsPluginData.FromString(content)
        for tag, content in acc.PluginTagToContent("hparams").items()
    }


def _session_groups(logdir: str):
    """What TensorBoard's HParams tab asks its backend for: the table of sessions."""
    from tensorboard import context as tb_context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import (
        backend_context,
        get_experiment,
        list_session_groups,
    )

    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    tb = base_plugin.TBContext(
        logdir=logdir,
        multiplexer=mux,
        data_provider=data_provider.MultiplexerDataProvider(mux, logdir),
    )
    context = backend_context.Context(tb)
    ctx = tb_context.RequestContext()
    experiment = get_experiment.Handler(ctx, context, "", api_pb2.GetExperimentRequest()).run()
    request = api_pb2.ListSessionGroupsRequest(
        allowed_statuses=[
            api_pb2.STATUS_SUCCESS,
            api_pb2.STATUS_FAILURE,
            api_pb2.STATUS_RUNNING,
            api_pb2.STATUS_UNKNOWN,
        ],
        start_index=0,
        slice_size=100,
    )
    groups = list_session_groups.Handler(ctx, context, "", request).run()
    return experiment, groups


STEPS = 6


def ten_trials(config):
    for step in range(1, STEPS + 1):
        if config["x"] == 10 and step == 4:
            raise RuntimeError("trial 10 fails on purpose")
        tune.report(
            {
                "loss": config["x"] / step,
                "eval": {"acc": step / 10, "f1": np.float32(0.5)},
                "weights": [1.0, 2.0, float(step)],
                "note": "not a number",
                "converged": step == STEPS,
            }
        )


def test_ten_trials_show_scalars_and_hparams_sessions(tmp_path, executor):
    space = {
        "x": tune.grid_search(list(range(1, 11))),
        "opt": {"name": "sgd", "momentum": 0.9},
        "layers": [64, 32],
        "use_bn": True,
    }
    analysis = tune.run(
        ten_trials,
        name="exp",
        config=space,
        storage_path=str(tmp_path),
        verbose=0,
        executor=executor,
        raise_on_failed_trial=False,
        callbacks=[TBXLoggerCallback()],
    )
    assert len(analysis.trials) == 10
    for trial in analysis.trials:
        files = [f for f in os.listdir(trial.path) if "tfevents" in f]
        assert len(files) == 1, files  # one event file per trial
        acc = _accumulator(trial.path)
        x = trial.config["x"]
        steps = STEPS if x != 10 else 3
        loss = acc.Scalars("loss")
        assert [e.step for e in loss] == list(range(1, steps + 1))
        assert [e.value for e in loss] == pytest.approx([x / s for s in range(1, steps + 1)])
        assert [e.value for e in acc.Scalars("eval/acc")] == pytest.approx(
            [s / 10 for s in range(1, steps + 1)]
        )
        assert acc.Scalars("eval/f1")[0].value == 0.5
        assert acc.Scalars("training_iteration")[-1].value == steps
        scalar_tags = set(acc.Tags()["scalars"])
        assert {"time_total_s", "time_this_iter_s", "converged"} <= scalar_tags
        assert not scalar_tags & {
            "note",
            "pid",
            "timestamp",
            "trial_id",
            "done",
            "date",
            "hostname",
            "config/x",
            "node_ip",
        }
        histogram = acc.Histograms("weights")[-1]
        assert histogram.step == steps and histogram.histogram_value.max == steps

        data = _hparams(acc)
        assert set(data) == {
            "_hparams_/experiment",
            "_hparams_/session_start_info",
            "_hparams_/session_end_info",
        }
        start = data["_hparams_/session_start_info"].session_start_info
        assert start.hparams["x"].number_value == x
        assert start.hparams["opt/name"].string_value == "sgd"
        assert start.hparams["opt/momentum"].number_value == 0.9
        assert start.hparams["layers"].string_value == "[64, 32]"
        assert start.hparams["use_bn"].bool_value is True
        experiment = data["_hparams_/experiment"].experiment
        assert {h.name for h in experiment.hparam_infos} == {
            "x",
            "opt/name",
            "opt/momentum",
            "layers",
            "use_bn",
        }
        metrics = {m.name.tag for m in experiment.metric_infos}
        assert {"loss", "eval/acc", "training_iteration"} <= metrics
        assert "time_this_iter_s" not in metrics
        end = data["_hparams_/session_end_info"].session_end_info
        assert end.status == (api_pb2.STATUS_FAILURE if x == 10 else api_pb2.STATUS_SUCCESS)

    # What the HParams tab shows: one session per trial, with its hparams and last metrics.
    experiment, groups = _session_groups(str(tmp_path / "exp"))
    assert {h.name for h in experiment.hparam_infos} >= {"x", "opt/name"}
    assert groups.total_size == 10
    by_x = {}
    for group in groups.session_groups:
        (session,) = group.sessions
        by_x[group.hparams["x"].number_value] = session
    assert sorted(by_x) == list(range(1, 11))
    for x, session in by_x.items():
        values = {m.name.tag: m.value for m in session.metric_values}
        last_step = STEPS if x != 10 else 3
        assert values["loss"] == pytest.approx(x / last_step)
        expected = api_pb2.STATUS_FAILURE if x == 10 else api_pb2.STATUS_SUCCESS
        assert session.status == expected


def test_a_trial_running_at_the_end_gets_an_unknown_outcome(make_trial, make_result):
    trial = make_trial(config={"lr": 0.5, "act": "relu"})
    cb = TBXLoggerCallback()
    cb.on_trial_start(1, [trial], trial)
    cb.on_trial_result(2, [trial], trial, make_result(1, loss=2.0))
    cb.on_experiment_end([trial])  # for example after Ctrl-C
    acc = _accumulator(trial.path)
    assert acc.Scalars("loss")[0].value == 2.0
    data = _hparams(acc)
    hparams = data["_hparams_/session_start_info"].session_start_info.hparams
    assert hparams["act"].string_value == "relu" and hparams["lr"].number_value == 0.5
    assert data["_hparams_/session_end_info"].session_end_info.status == api_pb2.STATUS_UNKNOWN


def test_writing_imports_no_tensorboard_library(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from overtone._trial import FrozenTrial, Resources, TrialStatus
        from overtone.logger import TBXLoggerCallback

        t = FrozenTrial("t1", "train_t1", {{"lr": 0.1}}, TrialStatus.RUNNING, {{}},
                        {str(tmp_path / "t1")!r}, Resources())
        cb = TBXLoggerCallback()
        cb.on_trial_start(1, [t], t)
        cb.on_trial_result(2, [t], t, {{"loss": 1.0, "training_iteration": 1}})
        cb.on_trial_complete(3, [t], t)
        print(sorted(m for m in ("tensorboardX", "tensorboard", "google.protobuf")
                     if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert _accumulator(str(tmp_path / "t1")).Scalars("loss")[0].value == 1.0


def test_a_restarted_trial_keeps_writing_the_same_file(make_trial, make_result):
    trial = make_trial()
    cb = TBXLoggerCallback()
    cb.on_trial_start(1, [trial], trial)
    cb.on_trial_result(2, [trial], trial, make_result(1, loss=2.0))
    cb.on_trial_start(3, [trial], trial)  # after a pause: no new file, no new session
    cb.on_trial_result(4, [trial], trial, make_result(2, loss=1.0))
    cb.on_trial_complete(5, [trial], trial)
    assert len([f for f in os.listdir(trial.path) if "tfevents" in f]) == 1
    assert [e.value for e in _accumulator(trial.path).Scalars("loss")] == [2.0, 1.0]


def test_odd_values_do_not_break_the_file(make_trial, make_result):
    trial = make_trial(config={"fn": len, "obj": object, "none": None, "empty": {}})
    cb = TBXLoggerCallback()
    big = make_result(
        1,
        huge=1e300,
        neg=-1e300,
        nan=float("nan"),
        big_int=2**70,
        empty_list=[],
        strings=["a", "b"],
        np_int=np.int64(3),
    )
    cb.on_trial_result(1, [trial], trial, big)
    cb.on_trial_complete(2, [trial], trial)
    acc = _accumulator(trial.path)
    assert acc.Scalars("huge")[0].value == float("inf")
    assert acc.Scalars("neg")[0].value == float("-inf")
    assert np.isnan(acc.Scalars("nan")[0].value)
    assert acc.Scalars("np_int")[0].value == 3
    assert "strings" not in acc.Tags()["histograms"]
    hparams = _hparams(acc)["_hparams_/session_start_info"].session_start_info.hparams
    assert hparams["fn"].string_value == "len" and "none" not in hparams
    assert hparams["empty"].string_value == "{}"


def test_hand_encoded_events_parse_as_protobuf():
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto.event_pb2 import Event

    data = _tfevents.ScalarEncoder().encode(
        2**40, {"a": 1.5, "nested/ü": -2.0, "x" * 200: 3.0}, 1234.5
    )
    event = Event.FromString(data)
    assert event.step == 2**40 and event.wall_time == 1234.5
    assert {v.tag: v.simple_value for v in event.summary.value} == {
        "a": 1.5,
        "nested/ü": -2.0,
        "x" * 200: 3.0,
    }
    assert Event.FromString(_tfevents.ScalarEncoder().encode(-1, {}, 0.0)).step == -1


def test_crc32c_matches_the_standard():
    # RFC 3720's check value, and the native implementation where one is installed.
    assert _tfevents.crc32c_python(b"123456789") == 0xE3069283
    assert _tfevents.crc32c_python(b"") == 0
    for length in (1, 2, 3, 4, 5, 7, 8, 1283):
        data = (bytes(range(256)) * 6)[:length]
        assert _tfevents.crc32c_python(data) == _tfevents.crc32c(data), length


def test_records_are_framed_for_tensorflow(tmp_path):
    events = _tfevents.EventFile(str(tmp_path))
    events.write(b"payload")
    events.close()
    raw = open(events.path, "rb").read()
    (length,) = struct.unpack("<Q", raw[:8])
    first = raw[12 : 12 + length]
    assert struct.unpack("<I", raw[8:12])[0] == _tfevents.masked_crc32c(raw[:8])
    assert b"brain.Event:2" in first
    assert raw.endswith(b"payload" + struct.pack("<I", _tfevents.masked_crc32c(b"payload")))
